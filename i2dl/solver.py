"""Train an :mod:`i2dl.nn` model with an :mod:`i2dl.optim` optimiser on numpy arrays.

``Solver`` runs the loop of every numpy exercise (mini-batch, forward, loss, backward, step)
and the bookkeeping around it::

    rng = np.random.default_rng(0)
    model = Sequential(Linear(2, 64, seed=rng), ReLU(), Linear(64, 3, seed=rng))
    solver = Solver(model, cross_entropy_loss, Adam(lr=1e-2), (X_train, y_train), (X_val, y_val),
                    batch_size=32, num_epochs=50, patience=5)
    history = solver.train()            # restores the parameters of the best validation epoch
    solver.check_accuracy(X_test, y_test)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from i2dl.data import DataLoader
from i2dl.nn import Module
from i2dl.optim import Optimizer

__all__ = ["Solver", "accuracy"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
Metric = Callable[[np.ndarray, np.ndarray], float]

_HISTORY_KEYS = ("batch_loss", "train_loss", "train_metric", "val_loss", "val_metric", "lr")


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose highest score belongs to the true class.

    Parameters
    ----------
    scores : np.ndarray, shape (N, C)
        Class scores (logits or probabilities).
    y : np.ndarray of int, shape (N,)
        True labels in ``[0, C)``.

    Returns
    -------
    float in [0, 1]
    """
    scores, y = np.asarray(scores), np.asarray(y)
    if scores.ndim != 2 or y.shape != scores.shape[:1]:
        raise ValueError(
            f"accuracy needs class scores of shape (N, C) and labels of shape (N,), got scores "
            f"{scores.shape} and labels {y.shape}; for other outputs pass metric=<callable>"
        )
    return float(np.mean(scores.argmax(axis=1) == y))


def _pair(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (X, y) of arrays, got {type(data).__name__}")
    X, y = (np.asarray(array) for array in data)
    if len(X) != len(y):
        raise ValueError(f"{name}: X has {len(X)} examples but y has {len(y)}")
    return X, y


class Solver:
    """Mini-batch training with a history, early stopping and best-parameter restore.

    Every epoch visits the training set once in a new random order (a seeded
    :class:`~i2dl.data.DataLoader`) and takes one optimiser step per mini-batch; then the
    model is evaluated on the validation set in eval mode. The parameters (and buffers) of the
    epoch with the highest validation metric are kept and loaded back when training ends.

    Parameters
    ----------
    model : Module
        The network; its ``forward`` returns the predictions that ``loss_fn`` expects.
    loss_fn : callable
        ``loss_fn(prediction, y) -> (loss, dprediction)``, e.g. ``i2dl.losses.cross_entropy_loss``.
    optimizer : Optimizer
        Updates ``model.params`` from ``model.grads``, e.g. ``i2dl.optim.Adam(lr=1e-3)``.
    train_data : tuple (X, y)
        Training inputs ``(N, ...)`` and targets ``(N, ...)``.
    val_data : tuple (X, y), optional
        Validation set; needed for early stopping and best-parameter restore.
    batch_size : int
        Examples per mini-batch; the last batch of an epoch may be smaller.
    num_epochs : int
        Maximum number of passes over the training set.
    seed : int
        Seed of the shuffling; equal seeds (and equally seeded models) give equal runs.
    patience : int, optional
        Stop once the validation metric has not improved for this many epochs in a row.
        None trains for all ``num_epochs``.
    metric : "accuracy" or callable
        ``metric(prediction, y) -> float``, where higher is better (for an error such as the
        MSE pass its negative).
    lr_scheduler : optional
        An ``i2dl.optim.LRScheduler`` for ``optimizer``; stepped once after every epoch.
    progress : bool
        Show a tqdm progress bar over all mini-batches.
    verbose : bool
        Print one line of numbers per epoch.

    Attributes
    ----------
    history : dict of str to list of float
        Filled by :meth:`train`, see there.
    best_epoch : int or None
        Epoch (counted from 1) with the best validation metric, whose parameters were restored.
    best_val_metric : float
        Its validation metric (``-inf`` before training).
    stopped_early : bool
        Whether early stopping ended the last run.
    """

    def __init__(
        self,
        model: Module,
        loss_fn: LossFn,
        optimizer: Optimizer,
        train_data: tuple[np.ndarray, np.ndarray],
        val_data: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        batch_size: int = 32,
        num_epochs: int = 10,
        seed: int = 0,
        patience: int | None = None,
        metric: str | Metric = "accuracy",
        lr_scheduler: Any = None,
        progress: bool = True,
        verbose: bool = False,
    ) -> None:
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
            raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
        if patience is not None:
            if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
                raise ValueError(f"patience must be a positive int or None, got {patience!r}")
            if val_data is None:
                raise ValueError("early stopping watches the validation set: pass val_data too")
        if metric == "accuracy":
            metric = accuracy
        elif not callable(metric):
            raise ValueError(f"metric must be 'accuracy' or a callable, got {metric!r}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.train_data = _pair(train_data, "train_data")
        self.val_data = None if val_data is None else _pair(val_data, "val_data")
        self.loader = DataLoader(self.train_data, batch_size=batch_size, shuffle=True, seed=seed)
        self.batch_size, self.num_epochs, self.patience = batch_size, num_epochs, patience
        self.metric, self.lr_scheduler = metric, lr_scheduler
        self.progress, self.verbose = progress, verbose
        self.history: dict[str, list[float]] = {}
        self.best_epoch: int | None = None
        self.best_val_metric = -math.inf
        self.stopped_early = False

    def train(self) -> dict[str, list[float]]:
        """Train for ``num_epochs`` or until early stopping; restore the best parameters.

        Calling ``train`` again continues from the current parameters with a new history.

        Returns
        -------
        history : dict of str to list of float
            ``"batch_loss"``: the loss of every mini-batch (one entry per iteration). Per epoch:
            ``"train_loss"`` and ``"train_metric"``, averages over that epoch's mini-batches,
            measured in training mode while the parameters change; ``"val_loss"`` and
            ``"val_metric"`` at the end of the epoch in eval mode (empty without ``val_data``);
            ``"lr"``, the learning rate used in the epoch.
        """
        history: dict[str, list[float]] = {key: [] for key in _HISTORY_KEYS}
        self.history, self.best_epoch, self.best_val_metric = history, None, -math.inf
        self.stopped_early, best_state, epochs_without_improvement = False, None, 0
        total = self.num_epochs * len(self.loader)
        bar = tqdm(total=total, unit="batch", disable=not self.progress, dynamic_ncols=True)
        try:
            for epoch in range(1, self.num_epochs + 1):
                bar.set_description(f"epoch {epoch}/{self.num_epochs}", refresh=False)
                history["lr"].append(self.optimizer.lr)
                train_loss, train_metric = self._train_epoch(bar, history["batch_loss"])
                history["train_loss"].append(train_loss)
                history["train_metric"].append(train_metric)
                if self.val_data is not None:
                    val_loss, val_metric = self.evaluate(*self.val_data)
                    history["val_loss"].append(val_loss)
                    history["val_metric"].append(val_metric)
                    if val_metric > self.best_val_metric:
                        self.best_epoch, self.best_val_metric = epoch, val_metric
                        best_state = self.model.state_dict()
                        epochs_without_improvement = 0
                    else:
                        epochs_without_improvement += 1
                self._report(epoch, bar)
                if self.lr_scheduler is not None:
                    self.lr_scheduler.step()
                if self.patience is not None and epochs_without_improvement >= self.patience:
                    self.stopped_early = True
                    break
        finally:
            bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return history

    def _train_epoch(self, bar: tqdm, batch_losses: list[float]) -> tuple[float, float]:
        """One pass over the training set; mean loss and metric weighted by batch size."""
        self.model.train()
        loss_sum = metric_sum = 0.0
        for X_batch, y_batch in self.loader:
            prediction = self.model(X_batch)
            loss, dprediction = self.loss_fn(prediction, y_batch)
            self.model.backward(dprediction)
            self.optimizer.step(self.model.params, self.model.grads)
            batch_losses.append(float(loss))
            loss_sum += float(loss) * len(X_batch)
            metric_sum += float(self.metric(prediction, y_batch)) * len(X_batch)
            bar.update()
            bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        size = len(self.train_data[0])
        return loss_sum / size, metric_sum / size

    def _report(self, epoch: int, bar: tqdm) -> None:
        if not self.verbose:
            return
        name = "accuracy" if self.metric is accuracy else getattr(self.metric, "__name__", "metric")
        line = (
            f"epoch {epoch}/{self.num_epochs}: train loss {self.history['train_loss'][-1]:.4f}, "
            f"train {name} {self.history['train_metric'][-1]:.4f}"
        )
        if self.val_data is not None:
            line += (
                f", val loss {self.history['val_loss'][-1]:.4f}, "
                f"val {name} {self.history['val_metric'][-1]:.4f}"
            )
        if self.progress:
            bar.write(line)
        else:
            print(line)

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The model's outputs for ``X`` (N, ...), computed in eval mode batch by batch.

        For a classifier these are class scores (N, C); ``.argmax(axis=1)`` gives labels. The
        model returns to the mode it was in.
        """
        X = np.asarray(X)
        batch_size = self.batch_size if batch_size is None else int(batch_size)
        was_training = self.model.training
        self.model.eval()
        try:
            outputs = [self.model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
        finally:
            self.model.train(was_training)
        return np.concatenate(outputs)

    def evaluate(
        self, X: np.ndarray, y: np.ndarray, batch_size: int | None = None
    ) -> tuple[float, float]:
        """Loss and metric of the model on ``(X, y)`` in eval mode."""
        prediction = self.predict(X, batch_size)
        return float(self.loss_fn(prediction, y)[0]), float(self.metric(prediction, y))

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, batch_size: int | None = None) -> float:
        """Classification accuracy of the model on ``X`` (N, ...) with labels ``y`` (N,)."""
        return accuracy(self.predict(X, batch_size), y)
