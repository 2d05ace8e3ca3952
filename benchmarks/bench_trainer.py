"""Overhead of ``i2dl.training.Trainer`` against the same epoch written by hand.

Both sides train the same MLP (20 -> 256 -> 256 -> 10, Adam) on the same 20,000 synthetic
samples in batches of 128 and then validate on 5,000, in this process, on the same device
(``get_device()``). Each repeat times one hand-written epoch and one ``Trainer.fit`` epoch,
alternating which goes first; the reported ratio is the median over repeats of
Trainer time / hand-written time.

    python benchmarks/bench_trainer.py
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from i2dl.training import Trainer, get_device, make_loader, seed_everything


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """X (n, 20) float32 and labels y (n,) of a random linear teacher with 10 classes."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 20, generator=generator)
    teacher = torch.randn(20, 10, generator=torch.Generator().manual_seed(1234))
    return X, (X @ teacher).argmax(dim=1)


def hand_written_epoch(model, train_loader, val_loader, optimizer, loss_fn, device):
    """The loop a student writes from the PyTorch tutorials: train, then validate."""
    model.train()
    train_loss, count = 0.0, 0
    for X, y in train_loader:
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * len(y)
        count += len(y)
    model.eval()
    val_loss, correct, val_count = 0.0, 0, 0
    with torch.no_grad():
        for X, y in val_loader:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            y_hat = model(X)
            val_loss += loss_fn(y_hat, y).item() * len(y)
            correct += (y_hat.argmax(dim=1) == y).sum().item()
            val_count += len(y)
    return train_loss / count, val_loss / val_count, correct / val_count


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run(
    report: Callable[[str], object] = print,
    n_samples: int = 20_000,
    batch_size: int = 128,
    repeats: int = 7,
    threads: int | None = 1,
) -> float:
    """Time Trainer epochs against hand-written ones; report and return the median ratio.

    ``report`` receives one line of text per result. The ratio returned is for the Trainer
    with its progress bar off; the run with the bar on (drawn into a discarded buffer) is
    reported as well. ``threads`` sets torch's intra-op threads for the run (None: leave as
    is). One is the default because the ratio is about loop overhead, and on a busy two-core
    machine several threads spinning against each other made epochs 10x slower and the
    ratio swing between 1.0x and 2.1x.
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(report, n_samples, batch_size, repeats)
    finally:
        torch.set_num_threads(previous_threads)


def _run(report: Callable[[str], object], n_samples: int, batch_size: int, repeats: int) -> float:
    device = get_device()
    seed_everything(0)
    train_loader = make_loader(*make_data(n_samples, seed=1), batch_size, shuffle=True, seed=0)
    val_loader = make_loader(*make_data(n_samples // 4, seed=2), batch_size=1024)
    model = nn.Sequential(
        nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    quiet, shown = Trainer(1, device=device, progress=False), Trainer(1, device=device)

    def hand() -> None:
        hand_written_epoch(model, train_loader, val_loader, optimizer, loss_fn, device)

    def fit(trainer: Trainer) -> None:
        trainer.fit(model, train_loader, val_loader, optimizer, loss_fn)

    def fit_with_bar() -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            fit(shown)

    sides = {"hand": hand, "trainer": lambda: fit(quiet), "trainer+bar": fit_with_bar}
    for work in sides.values():  # warm-up: allocator, kernels, lazy imports
        work()
    timings: dict[str, list[float]] = {name: [] for name in sides}
    for repeat in range(repeats):
        # Alternate the order so that a slow drift of the machine hits both sides alike.
        for name in list(sides) if repeat % 2 == 0 else list(reversed(sides)):
            timings[name].append(_seconds(sides[name]))

    report(
        f"trainer: {n_samples} samples, batch {batch_size} ({len(train_loader)} steps) "
        f"+ validation, device {device}, torch threads {torch.get_num_threads()}, {repeats} repeats"
    )
    report(f"trainer: hand-written epoch {statistics.median(timings['hand']) * 1e3:.1f} ms")
    ratios = {}
    for name in ("trainer", "trainer+bar"):
        # Ratios of the runs of one repeat, taken side by side, cancel most machine noise.
        paired = [t / h for t, h in zip(timings[name], timings["hand"], strict=True)]
        ratios[name] = statistics.median(paired)
        report(
            f"trainer: {name} epoch {statistics.median(timings[name]) * 1e3:.1f} ms, "
            f"ratio {ratios[name]:.3f}x (median of paired ratios; goal <= 1.10x)"
        )
    return ratios["trainer"]


if __name__ == "__main__":
    run()
