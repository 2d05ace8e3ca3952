"""Train PyTorch models: a small Trainer plus device, seeding and data-loading helpers.

``Trainer.fit`` runs the loop every PyTorch program writes by hand (batch to device, forward,
loss, backward, step) and keeps the bookkeeping around it: a per-epoch ``History``, a progress
bar, early stopping, checkpoints, a CSV log and mixed precision on CUDA::

    seed_everything(0)
    train_loader = make_loader(X_train, y_train, batch_size=128, shuffle=True, seed=0)
    val_loader = make_loader(X_val, y_val, batch_size=512)
    trainer = Trainer(max_epochs=10, early_stopping=EarlyStopping(patience=3))
    history = trainer.fit(model, train_loader, val_loader, optimizer, nn.CrossEntropyLoss())

Shuffling never depends on the device: build loaders with a seeded ``torch.Generator`` on the
CPU (``make_loader`` does), so one seed gives the same batches on a laptop and on a GPU.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], "torch.Tensor | float"]

_PRECISIONS = {"32": None, "16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}
_LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "val_metric", "lr", "epoch_time")


def get_device() -> torch.device:
    """The device to train on: CUDA if present, then Apple's MPS, then the CPU.

    The environment variable ``I2DL_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ``auto``)
    overrides the choice, so a notebook moves to the CPU without being edited. A name that is
    not a device raises ``ValueError``; a device this machine lacks raises ``RuntimeError``.
    """
    requested = os.environ.get("I2DL_DEVICE", "").strip()
    if requested and requested != "auto":
        return _checked_device(requested, source="I2DL_DEVICE")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked_device(name: str | torch.device, source: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"{source}={str(name)!r} is not a device; expected 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or 'mps'."
        )
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available[device.type]:
        raise RuntimeError(
            f"{source}={str(name)!r}, but PyTorch sees no such device on this machine; "
            "use 'cpu' or 'auto' instead."
        )
    return device


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and all CUDA devices).

    With ``deterministic=True`` torch also switches to deterministic algorithms (slower on a
    GPU; an operation that has none then raises); ``False`` switches that mode off again.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    # Only on a change: the first call imports torch's compiler stack, seconds of start-up.
    if torch.are_deterministic_algorithms_enabled() != deterministic:
        torch.use_deterministic_algorithms(deterministic)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        # cuBLAS only reduces deterministically with a fixed workspace.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def make_loader(
    X: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray | None = None,
    batch_size: int = 128, shuffle: bool = False, seed: int = 0,
    pin_memory: bool | str = "auto", drop_last: bool = False,
) -> DataLoader:
    """A ``DataLoader`` over in-memory ``X`` (N, ...) and ``y`` (N, ...), shuffled on the CPU.

    The order of batches depends on ``seed`` only (the loader owns a seeded CPU
    ``torch.Generator``), not on the global seed or the device. ``pin_memory="auto"`` pins
    batches when ``get_device()`` is CUDA, which makes copies to the GPU faster. Batches are
    ``(X_batch, y_batch)`` of shapes (B, ...), or ``(X_batch,)`` when ``y`` is None.
    """
    tensors = [torch.as_tensor(X)] + ([] if y is None else [torch.as_tensor(y)])
    if len(tensors) == 2 and len(tensors[0]) != len(tensors[1]):
        raise ValueError(f"X has {len(tensors[0])} samples but y has {len(tensors[1])}.")
    if pin_memory == "auto":
        pin_memory = get_device().type == "cuda"
    return DataLoader(
        TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
        pin_memory=bool(pin_memory), generator=torch.Generator().manual_seed(seed),
    )


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def _to_device(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        found = f"{len(batch)} items" if isinstance(batch, (tuple, list)) else type(batch).__name__
        raise ValueError(
            f"each batch must be a pair (inputs, targets), found {found}; build the loader with "
            "make_loader(X, y) or from a dataset that returns (x, y)."
        )
    # From pinned memory a non-blocking copy overlaps with the GPU's work.
    X, y = batch
    non_blocking = device.type == "cuda"
    return X.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)


def _accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Accuracy when ``y`` (B, ...) holds class labels and ``y_hat`` (B, C, ...) class scores."""
    if y.is_floating_point() or y.is_complex() or y_hat.ndim != y.ndim + 1:
        return None
    return (y_hat.argmax(dim=1) == y).float().mean()


def evaluate(
    model: nn.Module, loader: Iterable, loss_fn: LossFn,
    device: torch.device | str | None = None, metric: Metric | None = None,
) -> tuple[float, float]:
    """Mean loss and mean metric of ``model`` over all batches of ``loader``, without gradients.

    ``loader`` yields pairs of inputs (B, ...) and targets (B, ...); ``loss_fn(y_hat, y)`` and
    ``metric(y_hat, y)`` return means over a batch. Without a metric, accuracy is reported when
    the targets are integer class labels (B, ...) and the outputs class scores (B, C, ...).
    ``device`` defaults to where the model's parameters are. The model runs in eval mode,
    then returns to the mode it was in.

    Returns
    -------
    (loss, metric) : tuple of float
        Means over all samples (batches weighted by size); metric is ``nan`` when there is none.
    """
    device = _model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    # Sums stay on the device so that the loop never waits for the GPU; one sync at the end.
    loss_sum = torch.zeros((), device=device)
    metric_sum = torch.zeros((), device=device)
    has_metric, count = True, 0
    with torch.no_grad():
        for batch in loader:
            X, y = _to_device(batch, device)
            y_hat = model(X)
            loss_sum += loss_fn(y_hat, y).float() * y.shape[0]
            value = _accuracy(y_hat, y) if metric is None else metric(y_hat, y)
            has_metric = has_metric and value is not None
            if has_metric:
                metric_sum += torch.as_tensor(value, device=device).float() * y.shape[0]
            count += y.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError("the loader yielded no batches; check its dataset and batch size.")
    return loss_sum.item() / count, metric_sum.item() / count if has_metric else math.nan


def predict(
    model: nn.Module, loader: Iterable, device: torch.device | str | None = None
) -> torch.Tensor:
    """Outputs (N, ...) of ``model`` for all batches of ``loader``, concatenated on the CPU.

    Batches are input tensors (B, ...) or tuples whose first item is the input; targets are
    ignored. The model runs in eval mode without gradients, then returns to its previous mode.
    """
    device = _model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for batch in loader:
            X = batch[0] if isinstance(batch, (tuple, list)) else batch
            outputs.append(model(X.to(device, non_blocking=device.type == "cuda")).cpu())
    model.train(was_training)
    return torch.cat(outputs)


class EarlyStopping:
    """Stop training once ``monitor`` has not improved for ``patience`` epochs in a row.

    A value improves on the best so far when it is lower by more than ``min_delta``
    (``mode="min"``) or higher by more than ``min_delta`` (``mode="max"``). A value that is not
    finite (a diverged loss) stops training at once.
    """

    def __init__(
        self, monitor: str = "val_loss", patience: int = 3, mode: str = "min",
        min_delta: float = 0.0,
    ) -> None:
        if monitor not in ("val_loss", "val_metric", "train_loss"):
            raise ValueError(
                f"monitor={monitor!r}; expected 'val_loss', 'val_metric' or 'train_loss'."
            )
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r}; expected 'min' (lower is better) or 'max'.")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"patience={patience} and min_delta={min_delta} must be >= 0.")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0

    def step(self, value: float) -> bool:
        """Record one epoch's value; return True when training should stop."""
        if not math.isfinite(value):
            return True
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


@dataclass
class History:
    """What ``Trainer.fit`` measured: one list entry per epoch.

    ``epoch_time`` is the seconds spent training and validating, ``lr`` the first parameter
    group's learning rate during the epoch, ``val_metric`` ``nan`` where no metric applies.
    ``best_epoch`` holds the best monitored value; ``stop_reason`` is ``"max_epochs"``,
    ``"early_stopping"``, ``"max_time"`` or ``"fast_dev_run"``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = "max_epochs"

    def append(self, row: dict[str, float]) -> None:
        for column in _LOG_COLUMNS:
            getattr(self, column).append(row[column])

    def __len__(self) -> int:
        return len(self.epoch)


class Trainer:
    """Fit a PyTorch model epoch by epoch; every option is off unless asked for.

    - ``device``: ``"auto"`` asks ``get_device()``; or a name such as ``"cpu"``, ``"cuda:0"``.
    - ``metric(y_hat, y)``: reported as ``val_metric`` (default: accuracy for class labels).
    - ``precision``: ``"32"``, ``"16-mixed"`` or ``"bf16-mixed"``. Mixed precision runs under
      ``torch.autocast`` (scaling the gradients for float16) on CUDA; on other devices it is
      ignored with a one-line warning, so a notebook written for a GPU runs on a laptop.
    - ``grad_clip_norm``: clip the norm of all gradients together before each step.
    - ``early_stopping``: an ``EarlyStopping``; its monitor and mode also define the best
      epoch (otherwise the one with the lowest ``val_loss``).
    - ``checkpoint_dir``: write ``best.pt`` and ``last.pt`` there (see ``load_checkpoint``).
    - ``log_csv``: write one row per epoch with the columns of ``History``.
    - ``max_time``: seconds; the epoch in progress when time runs out ends after that batch,
      is validated, logged and checkpointed, and ``fit`` returns.
    - ``limit_batches``: per epoch, this many batches (int) or this fraction (float in
      (0, 1]) of each loader.
    - ``fast_dev_run``: smoke test with one training and one validation batch; writes no files.
    - ``progress``: show a tqdm progress bar.
    """

    def __init__(
        self, max_epochs: int, device: str | torch.device = "auto", *,
        metric: Metric | None = None, precision: str = "32", grad_clip_norm: float | None = None,
        early_stopping: EarlyStopping | None = None, checkpoint_dir: str | Path | None = None,
        log_csv: str | Path | None = None, max_time: float | None = None,
        limit_batches: int | float | None = None, fast_dev_run: bool = False,
        progress: bool = True,
    ) -> None:
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, found {max_epochs!r}.")
        if precision not in _PRECISIONS:
            raise ValueError(f"precision={precision!r}; expected one of {list(_PRECISIONS)}.")
        if limit_batches is not None and not (
            (type(limit_batches) is int and limit_batches >= 1)
            or (type(limit_batches) is float and 0 < limit_batches <= 1)
        ):
            raise ValueError(
                f"limit_batches={limit_batches!r}; expected an int >= 1 (batches per epoch) "
                "or a float in (0, 1] (a fraction of each loader)."
            )
        self.device = get_device() if device == "auto" else _checked_device(device, "device")
        self.amp_dtype = _PRECISIONS[precision] if self.device.type == "cuda" else None
        if _PRECISIONS[precision] is not None and self.amp_dtype is None:
            warnings.warn(
                f"precision={precision!r} needs CUDA; training in full precision on "
                f"{self.device.type}.",
                stacklevel=2,
            )
        # A smoke test runs one batch of each kind and leaves no files behind.
        self.max_epochs = 1 if fast_dev_run else max_epochs
        self.limit_batches = 1 if fast_dev_run else limit_batches
        self.early_stopping = None if fast_dev_run else early_stopping
        self.checkpoint_dir = None if fast_dev_run or not checkpoint_dir else Path(checkpoint_dir)
        self.log_csv = None if fast_dev_run or not log_csv else Path(log_csv)
        self.metric, self.grad_clip_norm, self.max_time = metric, grad_clip_norm, max_time
        self.fast_dev_run, self.progress = fast_dev_run, progress
        self.best_state: dict[str, torch.Tensor] | None = None

    def fit(
        self, model: nn.Module, train_loader: Iterable, val_loader: Iterable,
        optimizer: torch.optim.Optimizer, loss_fn: LossFn,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, restore_best: bool = False,
    ) -> History:
        """Train ``model`` (moved to the Trainer's device) and return its ``History``.

        The loaders are yours: give the training loader a seeded CPU generator (``make_loader``
        does) so that its shuffling does not depend on the device. ``scheduler`` is stepped once
        per epoch after validation (``ReduceLROnPlateau`` with the validation loss).
        ``restore_best=True`` loads the best epoch's weights back into ``model`` at the end.
        """
        model.to(self.device)
        stopper = self.early_stopping
        monitor, mode = (stopper.monitor, stopper.mode) if stopper else ("val_loss", "min")
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype is torch.float16)
        n_train = self._num_batches(train_loader)
        total = n_train * self.max_epochs if n_train is not None else None
        bar = tqdm(total=total, unit="batch", disable=not self.progress, dynamic_ncols=True)
        log_file, log = self._open_log()
        deadline = None if self.max_time is None else time.perf_counter() + self.max_time
        history, best = History(), None
        try:
            for epoch in range(1, self.max_epochs + 1):
                bar.set_description(f"epoch {epoch}/{self.max_epochs}", refresh=False)
                start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
                train_loss = self._train_epoch(
                    model, train_loader, optimizer, loss_fn, scaler, bar, deadline
                )
                with self._autocast():
                    val_loss, val_metric = evaluate(
                        model, self._limited(val_loader), loss_fn, self.device, self.metric
                    )
                timed_out = deadline is not None and time.perf_counter() > deadline
                row = dict(
                    epoch=epoch, train_loss=train_loss, val_loss=val_loss, val_metric=val_metric,
                    lr=lr, epoch_time=time.perf_counter() - start,
                )
                history.append(row)
                bar.set_postfix_str(f"loss {train_loss:.4g} val {val_loss:.4g}/{val_metric:.4g}")
                if log is not None:
                    log.writerow(row)
                    log_file.flush()  # a crashed run still leaves its rows
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(val_loss)
                elif scheduler is not None:
                    scheduler.step()
                value = row[monitor]
                if monitor == "val_metric" and math.isnan(value) and self.metric is None:
                    raise ValueError(
                        "monitor='val_metric' but there is no metric: pass Trainer(metric=...) "
                        "or use integer class labels as targets."
                    )
                if best is None or (value < best if mode == "min" else value > best):
                    best, history.best_epoch = value, epoch
                    state = model.state_dict()
                    self.best_state = {k: v.detach().cpu().clone() for k, v in state.items()}
                    self._save("best.pt", model, optimizer, scheduler, epoch, monitor, value)
                self._save("last.pt", model, optimizer, scheduler, epoch, monitor, value)
                reason = "fast_dev_run" if self.fast_dev_run else "max_time" if timed_out else None
                if reason is None and stopper is not None and stopper.step(value):
                    reason = "early_stopping"
                if reason is not None:
                    history.stop_reason = reason
                    break
        finally:
            bar.close()
            if log_file is not None:
                log_file.close()
        if restore_best:
            self.restore_best(model)
        return history

    def restore_best(self, model: nn.Module) -> None:
        """Load the weights of the best epoch of the latest ``fit`` into ``model``."""
        if self.best_state is None:
            raise RuntimeError("there are no best weights yet: call fit() before restore_best().")
        model.load_state_dict(self.best_state)

    def _train_epoch(self, model, loader, optimizer, loss_fn, scaler, bar, deadline) -> float:
        """Mean training loss of one epoch, which ends early once ``deadline`` has passed."""
        model.train()
        loss_sum, count = torch.zeros((), device=self.device), 0
        for batch in self._limited(loader):
            X, y = _to_device(batch, self.device)
            with self._autocast():
                loss = loss_fn(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if self.grad_clip_norm is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip_norm)
            scaler.step(optimizer)
            scaler.update()
            # Summed on the device: a per-batch .item() would make the CPU wait for the GPU.
            loss_sum += loss.detach().float() * y.shape[0]
            count += y.shape[0]
            bar.update()
            if deadline is not None and time.perf_counter() > deadline:
                break
        if count == 0:
            raise ValueError("the training loader yielded no batches; check its dataset.")
        return loss_sum.item() / count

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _num_batches(self, loader) -> int | None:
        """Batches per epoch after ``limit_batches``; None for a loader without a length."""
        total = len(loader) if hasattr(loader, "__len__") else None
        limit = self.limit_batches
        if isinstance(limit, float):
            if total is None:
                raise ValueError("a fractional limit_batches needs a loader with a length.")
            return max(1, int(limit * total))
        if limit is None:
            return total
        return limit if total is None else min(limit, total)

    def _limited(self, loader) -> Iterable:
        return loader if self.limit_batches is None else islice(loader, self._num_batches(loader))

    def _open_log(self):
        if self.log_csv is None:
            return None, None
        self.log_csv.parent.mkdir(parents=True, exist_ok=True)
        file = self.log_csv.open("w", newline="")
        writer = csv.DictWriter(file, fieldnames=_LOG_COLUMNS)
        writer.writeheader()
        return file, writer

    def _save(self, name, model, optimizer, scheduler, epoch, monitor, value) -> None:
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "epoch": epoch,
            "monitor": monitor,
            "monitor_value": value,
        }
        if scheduler is not None:
            checkpoint["scheduler_state_dict"] = scheduler.state_dict()
        # Write, then rename: an interrupted save never leaves a truncated checkpoint behind.
        partial = self.checkpoint_dir / f"{name}.partial"
        torch.save(checkpoint, partial)
        os.replace(partial, self.checkpoint_dir / name)


def load_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict:
    """Load a ``best.pt`` or ``last.pt`` written by ``Trainer`` into ``model`` and ``optimizer``.

    Returns the whole checkpoint: ``model_state_dict``, ``optimizer_state_dict``, ``epoch``,
    ``monitor``, ``monitor_value`` and, if a scheduler was used, ``scheduler_state_dict``.
    """
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    return checkpoint
