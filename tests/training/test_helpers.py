"""get_device, seed_everything, make_loader, evaluate, predict and EarlyStopping."""

import math
import os
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from i2dl.training import (
    EarlyStopping,
    Trainer,
    evaluate,
    get_device,
    make_loader,
    predict,
    seed_everything,
)

from .helpers import make_blobs, make_mlp

pytestmark = pytest.mark.training


# --- get_device ---------------------------------------------------------------------------------


def test_get_device_honours_env_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("I2DL_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("junk", ["gpu", "cuda:x", "meta", "banana"])
def test_get_device_rejects_junk_with_the_value_in_the_message(monkeypatch, junk):
    monkeypatch.setenv("I2DL_DEVICE", junk)
    with pytest.raises(ValueError, match=f"I2DL_DEVICE='{junk}'.*expected 'auto', 'cpu'"):
        get_device()


def test_get_device_refuses_a_device_the_machine_lacks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("I2DL_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="I2DL_DEVICE='cuda'.*use 'cpu'"):
        get_device()


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
@pytest.mark.parametrize("env", [None, "auto"])
def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected, env):
    if env is None:
        monkeypatch.delenv("I2DL_DEVICE")
    else:
        monkeypatch.setenv("I2DL_DEVICE", env)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert get_device() == torch.device(expected)


def test_trainer_device_argument_is_checked():
    assert Trainer(1, device="cpu", progress=False).device == torch.device("cpu")
    assert Trainer(1, progress=False).device == torch.device("cpu")  # I2DL_DEVICE=cpu
    with pytest.raises(ValueError, match="device='tpu'"):
        Trainer(1, device="tpu")


# --- seed_everything ----------------------------------------------------------------------------


def _draws():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_seed_everything_reproduces_python_numpy_and_torch_streams():
    seed_everything(7)
    first = _draws()
    seed_everything(7)
    assert _draws() == first
    seed_everything(8)
    assert _draws() != first


def test_seed_everything_switches_deterministic_algorithms_on_and_off(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.benchmark
    assert "CUBLAS_WORKSPACE_CONFIG" in os.environ
    seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled()


# --- make_loader --------------------------------------------------------------------------------


def _order(loader):
    return torch.cat([y for _, y in loader]).tolist()


def test_make_loader_order_depends_on_its_seed_only():
    X = torch.arange(40.0).reshape(20, 2)
    y = torch.arange(20)
    torch.manual_seed(1)
    first = _order(make_loader(X, y, batch_size=6, shuffle=True, seed=3))
    torch.manual_seed(2)  # the global seed must not matter
    assert _order(make_loader(X, y, batch_size=6, shuffle=True, seed=3)) == first
    assert _order(make_loader(X, y, batch_size=6, shuffle=True, seed=4)) != first
    assert sorted(first) == list(range(20))
    assert _order(make_loader(X, y, batch_size=6)) == list(range(20))


def test_make_loader_reshuffles_each_epoch_reproducibly():
    X, y = torch.zeros(30, 1), torch.arange(30)
    loader_a = make_loader(X, y, batch_size=8, shuffle=True, seed=0)
    loader_b = make_loader(X, y, batch_size=8, shuffle=True, seed=0)
    epochs_a = [_order(loader_a) for _ in range(3)]
    assert epochs_a == [_order(loader_b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1]


def test_make_loader_accepts_numpy_without_mutating_it():
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = np.arange(10)
    X_before, y_before = X.copy(), y.copy()
    batches = list(make_loader(X, y, batch_size=4, shuffle=True, seed=0))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == torch.float64
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_make_loader_without_targets_yields_one_tuples_and_checks_lengths():
    batches = list(make_loader(torch.zeros(5, 2), batch_size=2))
    assert [len(batch) for batch in batches] == [1, 1, 1]
    with pytest.raises(ValueError, match="X has 5 samples but y has 4"):
        make_loader(torch.zeros(5, 2), torch.zeros(4))


def test_make_loader_pins_memory_only_for_cuda():
    assert not make_loader(torch.zeros(4, 1), torch.zeros(4)).pin_memory  # I2DL_DEVICE=cpu
    assert make_loader(torch.zeros(4, 1), pin_memory=True).pin_memory


# --- evaluate and predict -----------------------------------------------------------------------


def test_evaluate_weights_batches_by_size_and_reports_accuracy():
    X, y = make_blobs(50, seed=1)
    model = make_mlp(seed=0)
    loss, accuracy = evaluate(model, make_loader(X, y, batch_size=16), nn.CrossEntropyLoss())
    with torch.no_grad():
        scores = model(X)
    assert loss == pytest.approx(F.cross_entropy(scores, y).item(), rel=1e-6)
    assert accuracy == pytest.approx((scores.argmax(1) == y).double().mean().item(), abs=1e-7)
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_uses_a_given_metric_and_has_none_for_regression():
    X = torch.randn(20, 2)
    y = X.sum(dim=1, keepdim=True)
    model = nn.Linear(2, 1)
    loader = make_loader(X, y, batch_size=8)
    loss, metric = evaluate(model, loader, nn.MSELoss())
    assert math.isnan(metric)
    with torch.no_grad():
        mae = (model(X) - y).abs().mean().item()
    _, given = evaluate(model, loader, nn.MSELoss(), metric=lambda y_hat, y: F.l1_loss(y_hat, y))
    assert given == pytest.approx(mae, rel=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_and_predict_restore_the_model_mode(training):
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 3)).train(training)
    loader = make_loader(*make_blobs(12, seed=0), batch_size=5)
    evaluate(model, loader, nn.CrossEntropyLoss())
    assert model.training is training
    predict(model, loader)
    assert model.training is training


def test_predict_concatenates_eval_mode_outputs_in_order():
    X, y = make_blobs(23, seed=3)
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    with torch.no_grad():
        expected = model.eval()(X)
    model.train()
    for loader in (make_loader(X, y, batch_size=5), make_loader(X, batch_size=5), X.split(5)):
        out = predict(model, loader, device="cpu")
        assert out.shape == (23, 3)
        assert torch.allclose(out, expected, rtol=0, atol=1e-6)


def test_batches_that_are_not_pairs_get_an_actionable_error():
    loader = [(torch.zeros(2, 2), torch.zeros(2), torch.zeros(2))]
    with pytest.raises(ValueError, match=r"pair \(inputs, targets\), found 3 items"):
        evaluate(nn.Linear(2, 1), loader, nn.MSELoss())


# --- EarlyStopping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "values", "expected"),
    [
        ({"patience": 3}, [1.0, 0.9, 0.95, 0.93, 0.92], [False] * 4 + [True]),
        ({"patience": 2, "min_delta": 0.05}, [1.0, 0.96, 0.94, 0.92, 0.9], [False] * 4 + [True]),
        ({"patience": 2, "mode": "max"}, [0.5, 0.6, 0.6, 0.7, 0.7, 0.69], [False] * 5 + [True]),
        ({"patience": 0}, [1.0, 0.9, 0.95], [False, False, True]),
        ({"patience": 5}, [1.0, math.nan], [False, True]),
        ({"patience": 5, "mode": "max"}, [1.0, math.inf], [False, True]),
    ],
)
def test_early_stopping_semantics(kwargs, values, expected):
    stopper = EarlyStopping(**kwargs)
    assert [stopper.step(v) for v in values] == expected


def test_early_stopping_resets_patience_on_improvement():
    stopper = EarlyStopping(patience=2)
    steps = [stopper.step(v) for v in [1.0, 1.1, 0.8, 0.9, 0.85]]
    assert steps == [False, False, False, False, True]
    assert stopper.best == 0.8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"monitor": "accuracy"}, "monitor='accuracy'"),
        ({"mode": "lowest"}, "mode='lowest'"),
        ({"patience": -1}, "patience=-1"),
        ({"min_delta": -0.1}, "min_delta=-0.1"),
    ],
)
def test_early_stopping_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)
