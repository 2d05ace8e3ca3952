"""i2dl.solver.Solver: fitting, history, early stopping, best-parameter restore, output."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.data import make_spirals, train_val_test_split
from i2dl.losses import cross_entropy_loss, mse_loss
from i2dl.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential
from i2dl.optim import SGD, Adam, StepLR
from i2dl.solver import Solver, accuracy

pytestmark = pytest.mark.nn


@pytest.fixture(scope="module")
def spirals():
    """Train and validation splits of 400 points on two spiral arms."""
    X, y = make_spirals(400, noise=0.05, seed=0)
    train, val, _ = train_val_test_split(X, y, fractions=(0.7, 0.3, 0.0), seed=0)
    return train, val


def mlp(seed: int = 0, dropout: float = 0.0, batchnorm: bool = False) -> Sequential:
    rng = np.random.default_rng(seed)
    layers = [Linear(2, 64, seed=rng)]
    layers += [BatchNorm1d(64)] if batchnorm else []
    layers += [ReLU(), Dropout(dropout, seed=rng), Linear(64, 64, seed=rng), ReLU()]
    return Sequential(*layers, Linear(64, 2, seed=rng))


def solver(model, spirals, **kwargs) -> Solver:
    train, val = spirals
    options = {"batch_size": 32, "num_epochs": 5, "progress": False, **kwargs}
    optimizer = options.pop("optimizer", Adam(lr=1e-2))
    return Solver(model, cross_entropy_loss, optimizer, train, val, **options)


def test_mlp_fits_the_spirals(spirals):
    run = solver(mlp(), spirals, num_epochs=80)
    run.train()
    assert run.check_accuracy(*spirals[0]) >= 0.95
    assert run.check_accuracy(*spirals[1]) >= 0.9


def test_history_records_every_batch_and_epoch(spirals):
    run = solver(mlp(), spirals, num_epochs=3, batch_size=50)
    history = run.train()
    assert run.history is history
    batches_per_epoch = -(-len(spirals[0][0]) // 50)  # 280 examples: 5 full batches and 30
    assert len(history["batch_loss"]) == 3 * batches_per_epoch
    for key in ("train_loss", "train_metric", "val_loss", "val_metric", "lr"):
        assert len(history[key]) == 3, key
    sizes = [50] * (batches_per_epoch - 1) + [30]
    first_epoch = history["batch_loss"][:batches_per_epoch]
    assert history["train_loss"][0] == pytest.approx(np.average(first_epoch, weights=sizes))
    assert history["lr"] == [1e-2] * 3
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_early_stopping_waits_patience_epochs_after_the_best():
    # A constant metric improves once (on the first epoch) and never again.
    X, y = make_spirals(100, seed=1)
    run = Solver(
        mlp(), cross_entropy_loss, SGD(lr=0.1), (X, y), (X, y),
        num_epochs=50, patience=4, metric=lambda prediction, y: 0.5, progress=False,
    )  # fmt: skip
    history = run.train()
    assert len(history["val_metric"]) == 1 + 4
    assert run.stopped_early
    assert run.best_epoch == 1


def epochs_since_best(values: list[float]) -> int:
    """Epochs after the first occurrence of the maximum."""
    return len(values) - 1 - int(np.argmax(values))


def test_early_stopping_follows_its_rule_and_restores_the_best_parameters(spirals):
    run = solver(mlp(batchnorm=True, dropout=0.1), spirals, num_epochs=100, patience=3)
    history = run.train()
    metric = history["val_metric"]
    assert run.stopped_early and len(metric) < 100
    assert epochs_since_best(metric) == 3
    assert all(epochs_since_best(metric[:end]) < 3 for end in range(1, len(metric)))
    assert run.best_epoch == int(np.argmax(metric)) + 1
    assert run.best_val_metric == max(metric)
    # The restored model scores exactly what was recorded for the best epoch, not the last.
    best_loss = history["val_loss"][run.best_epoch - 1]
    assert run.evaluate(*spirals[1]) == (best_loss, max(metric))
    assert history["val_loss"][-1] != best_loss
    assert run.check_accuracy(*spirals[1]) == max(metric)
    # ... and equals a run that trained for exactly best_epoch epochs (weights and buffers).
    replay = solver(mlp(batchnorm=True, dropout=0.1), spirals, num_epochs=run.best_epoch)
    replay.train()
    for name, value in replay.model.state_dict().items():
        np.testing.assert_array_equal(run.model.state_dict()[name], value, err_msg=name)


def test_seeded_runs_are_identical_and_seeds_matter(spirals):
    first = solver(mlp(dropout=0.2), spirals, seed=3).train()
    again = solver(mlp(dropout=0.2), spirals, seed=3).train()
    assert first == again
    other = solver(mlp(dropout=0.2), spirals, seed=4).train()
    assert other["batch_loss"] != first["batch_loss"]
    # Training switches the model to training mode, whatever mode it was left in.
    assert solver(mlp(dropout=0.2).eval(), spirals, seed=3).train() == first


def test_progress_false_prints_nothing(spirals, capsys):
    solver(mlp(), spirals, num_epochs=2, progress=False).train()
    assert capsys.readouterr() == ("", "")


def test_progress_bar_and_verbose_lines(spirals, capsys):
    solver(mlp(), spirals, num_epochs=2, progress=True).train()
    captured = capsys.readouterr()
    assert captured.out == "" and "batch" in captured.err
    solver(mlp(), spirals, num_epochs=2, verbose=True).train()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2: train loss ") and "val accuracy" in lines[1]


def test_lr_scheduler_steps_once_per_epoch(spirals):
    optimizer = SGD(lr=0.1)
    run = solver(mlp(), spirals, optimizer=optimizer, lr_scheduler=StepLR(optimizer, 2, 0.5))
    assert run.train()["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_regression_with_a_custom_metric():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3

    def negative_mse(prediction, target):
        return -mse_loss(prediction, target)[0]

    run = Solver(
        Linear(3, 1, seed=0), mse_loss, Adam(lr=0.05), (X, y), (X, y),
        num_epochs=30, metric=negative_mse, progress=False,
    )  # fmt: skip
    history = run.train()
    np.testing.assert_allclose(history["val_metric"], -np.array(history["val_loss"]))
    assert history["val_loss"][-1] < 1e-3
    assert run.predict(X).shape == (200, 1)


def test_predict_runs_in_eval_mode_and_restores_the_mode(spirals):
    run = solver(mlp(dropout=0.5), spirals)
    X, y = spirals[1]
    scores = run.predict(X)
    assert run.model.training
    np.testing.assert_allclose(run.predict(X, batch_size=7), scores, rtol=1e-12)
    assert run.check_accuracy(X, y) == np.mean(scores.argmax(axis=1) == y)


def test_without_validation_data_the_final_parameters_stay(spirals):
    model = mlp()
    run = Solver(model, cross_entropy_loss, Adam(lr=1e-2), spirals[0], num_epochs=2, progress=False)
    history = run.train()
    assert history["val_metric"] == [] and run.best_epoch is None
    assert len(history["train_metric"]) == 2


def test_training_does_not_modify_the_data(spirals):
    (X, y), _ = spirals
    X_before, y_before = X.copy(), y.copy()
    solver(mlp(), spirals, num_epochs=1).train()
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_accuracy_and_argument_errors(spirals):
    assert accuracy(np.array([[0.1, 0.9], [2.0, 1.0], [0.0, 1.0]]), np.array([1, 0, 0])) == 2 / 3
    with pytest.raises(ValueError, match="metric=<callable>"):
        accuracy(np.ones(3), np.ones(3, dtype=int))
    train, _ = spirals
    with pytest.raises(ValueError, match="val_data"):
        Solver(mlp(), cross_entropy_loss, SGD(lr=0.1), train, patience=2)
    with pytest.raises(ValueError, match="metric"):
        Solver(mlp(), cross_entropy_loss, SGD(lr=0.1), train, metric="f1")
    with pytest.raises(TypeError, match=r"pair \(X, y\)"):
        Solver(mlp(), cross_entropy_loss, SGD(lr=0.1), train[0])
    with pytest.raises(ValueError, match="num_epochs"):
        Solver(mlp(), cross_entropy_loss, SGD(lr=0.1), train, num_epochs=0)
