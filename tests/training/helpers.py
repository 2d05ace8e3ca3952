"""Small data sets and instrumented models shared by the training tests."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from i2dl.training import make_loader

BLOB_CENTERS = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])


def make_blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian blobs in 2-D: X (n, 2) float32, y (n,) int64 class labels."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, len(BLOB_CENTERS), (n,), generator=generator)
    X = BLOB_CENTERS[y] + torch.randn(n, 2, generator=generator)
    return X, y


def blob_loaders(
    n_train: int = 320, n_val: int = 128, batch_size: int = 32, val_batch_size: int = 32,
    seed: int = 0,
):
    """Shuffled training loader (n_train / batch_size batches) and an ordered validation loader."""
    X_train, y_train = make_blobs(n_train, seed=100 + seed)
    X_val, y_val = make_blobs(n_val, seed=200 + seed)
    train_loader = make_loader(X_train, y_train, batch_size=batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(X_val, y_val, batch_size=val_batch_size)
    return train_loader, val_loader


def make_mlp(seed: int, hidden: int = 16) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, len(BLOB_CENTERS)))


class CountingModel(nn.Module):
    """Wraps a model and counts its forward calls in training mode and in eval mode."""

    def __init__(self, model: nn.Module, on_call: Callable[[bool], None] | None = None) -> None:
        super().__init__()
        self.model = model
        self.on_call = on_call
        self.train_calls = 0
        self.eval_calls = 0

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.train_calls += 1
        else:
            self.eval_calls += 1
        if self.on_call is not None:
            self.on_call(self.training)
        return self.model(X)


def flat_parameters(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])
