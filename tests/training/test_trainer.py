"""Trainer.fit end to end on tiny CPU problems."""

import csv
import math
import warnings

import pytest
import torch
from torch import nn

from i2dl import training
from i2dl.training import EarlyStopping, Trainer, load_checkpoint

from .helpers import CountingModel, blob_loaders, flat_parameters, make_mlp

pytestmark = pytest.mark.training


def _fit(seed=0, max_epochs=3, lr=0.05, model=None, loaders=None, restore_best=False, **kwargs):
    """Seeded run on the blobs; returns (history, model, optimizer, trainer)."""
    training.seed_everything(seed)
    model = make_mlp(seed) if model is None else model
    train_loader, val_loader = blob_loaders(seed=seed) if loaders is None else loaders
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    trainer = Trainer(max_epochs, progress=False, **kwargs)
    history = trainer.fit(
        model, train_loader, val_loader, optimizer, nn.CrossEntropyLoss(), restore_best=restore_best
    )
    return history, model, optimizer, trainer


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _same_optimizer_state(a: dict, b: dict) -> bool:
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    return all(_same_state(a["state"][k], b["state"][k]) for k in a["state"])


def test_a_small_mlp_learns_separable_blobs():
    history, *_ = _fit(max_epochs=8)
    assert len(history) == 8 and history.epoch == list(range(1, 9))
    assert history.val_metric[-1] > 0.95
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.stop_reason == "max_epochs"
    assert history.lr == [0.05] * 8
    assert all(t > 0 for t in history.epoch_time)


def test_seeded_runs_are_bit_identical_and_a_different_seed_is_not():
    first, model_a, optimizer_a, _ = _fit(seed=3)
    second, model_b, optimizer_b, _ = _fit(seed=3)
    other, model_c, _, _ = _fit(seed=4)
    for column in ("train_loss", "val_loss", "val_metric", "lr"):
        assert getattr(first, column) == getattr(second, column)
    assert _same_state(model_a.state_dict(), model_b.state_dict())
    assert _same_optimizer_state(optimizer_a.state_dict(), optimizer_b.state_dict())
    assert first.train_loss != other.train_loss
    assert not torch.equal(flat_parameters(model_a), flat_parameters(model_c))


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # lr=0 freezes the model, so val_loss only "improves" once, in epoch 1.
    stopper = EarlyStopping(patience=2)
    history, *_ = _fit(max_epochs=20, lr=0.0, early_stopping=stopper)
    assert len(history) == 1 + 2
    assert history.stop_reason == "early_stopping"
    assert history.best_epoch == 1
    assert len(set(history.val_loss)) == 1


def test_early_stopping_can_watch_accuracy_with_mode_max():
    stopper = EarlyStopping(monitor="val_metric", mode="max", patience=3)
    history, *_ = _fit(max_epochs=20, lr=0.0, early_stopping=stopper)
    assert len(history) == 1 + 3
    assert history.stop_reason == "early_stopping"


def test_early_stopping_on_a_missing_metric_says_what_to_do():
    X = torch.randn(16, 2)
    loader = training.make_loader(X, X.sum(1, keepdim=True), batch_size=8)
    model = nn.Linear(2, 1)
    trainer = Trainer(5, progress=False, early_stopping=EarlyStopping("val_metric", mode="max"))
    with pytest.raises(ValueError, match=r"no metric: pass Trainer\(metric=...\)"):
        trainer.fit(model, loader, loader, torch.optim.SGD(model.parameters(), 0.1), nn.MSELoss())


def _scripted_metric(values):
    """A metric that ignores its inputs and returns the next value (one val batch per epoch)."""
    values = iter(values)
    return lambda y_hat, y: next(values)


def _best_at_epoch_2_of(max_epochs, **kwargs):
    """A run whose scripted val_metric peaks in epoch 2, so best and last weights differ."""
    return _fit(
        max_epochs=max_epochs,
        loaders=blob_loaders(val_batch_size=128),  # one validation batch per epoch
        metric=_scripted_metric([0.5, 0.9, 0.7, 0.6][:max_epochs]),
        early_stopping=EarlyStopping(monitor="val_metric", mode="max", patience=10),
        **kwargs,
    )


def test_checkpoints_round_trip_model_and_optimizer(tmp_path):
    history, model, optimizer, trainer = _best_at_epoch_2_of(4, checkpoint_dir=tmp_path)
    _, model_at_2, optimizer_at_2, _ = _best_at_epoch_2_of(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    assert history.best_epoch == 2

    fresh = make_mlp(seed=99)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.05)
    best = load_checkpoint(tmp_path / "best.pt", fresh, fresh_optimizer)
    assert (best["epoch"], best["monitor"]) == (2, "val_metric")
    assert best["monitor_value"] == pytest.approx(0.9)
    X = torch.randn(32, 2)
    with torch.no_grad():
        assert torch.equal(fresh(X), model_at_2(X))
    assert _same_optimizer_state(fresh_optimizer.state_dict(), optimizer_at_2.state_dict())

    last = load_checkpoint(tmp_path / "last.pt", fresh, fresh_optimizer)
    assert last["epoch"] == 4 and last["monitor_value"] == pytest.approx(0.6)
    assert _same_state(fresh.state_dict(), model.state_dict())
    assert _same_optimizer_state(fresh_optimizer.state_dict(), optimizer.state_dict())
    assert not _same_state(model.state_dict(), model_at_2.state_dict())

    trainer.restore_best(model)
    assert _same_state(model.state_dict(), model_at_2.state_dict())


def test_fit_restore_best_reloads_the_best_weights():
    history, model, *_ = _best_at_epoch_2_of(4, restore_best=True)
    _, model_at_2, *_ = _best_at_epoch_2_of(2)
    assert history.best_epoch == 2
    assert _same_state(model.state_dict(), model_at_2.state_dict())


def test_restore_best_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match=r"call fit\(\) before restore_best"):
        Trainer(1, progress=False).restore_best(nn.Linear(1, 1))


def test_csv_log_has_a_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "logs" / "run.csv"
    history, *_ = _fit(max_epochs=3, log_csv=path)
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    header = ["epoch", "train_loss", "val_loss", "val_metric", "lr", "epoch_time"]
    assert reader.fieldnames == header
    assert len(rows) == 3
    for column in reader.fieldnames:
        assert [float(row[column]) for row in rows] == getattr(history, column)


def test_limit_batches_int_and_fraction_count_batches():
    loaders = blob_loaders(n_train=320, n_val=128, batch_size=32)  # 10 train, 4 val batches
    model = CountingModel(make_mlp(0))
    _fit(max_epochs=2, model=model, loaders=loaders, limit_batches=3)
    assert (model.train_calls, model.eval_calls) == (2 * 3, 2 * 3)

    model = CountingModel(make_mlp(0))
    _fit(max_epochs=2, model=model, loaders=loaders, limit_batches=0.5)
    assert (model.train_calls, model.eval_calls) == (2 * 5, 2 * 2)

    model = CountingModel(make_mlp(0))
    _fit(max_epochs=1, model=model, loaders=loaders, limit_batches=50)
    assert (model.train_calls, model.eval_calls) == (10, 4)


@pytest.mark.parametrize("limit", [0, -1, 1.5, 0.0, True, "all"])
def test_limit_batches_rejects_nonsense(limit):
    with pytest.raises(ValueError, match="limit_batches="):
        Trainer(1, limit_batches=limit)


def test_fast_dev_run_runs_one_batch_each_and_writes_nothing(tmp_path):
    model = CountingModel(make_mlp(0))
    history, *_ = _fit(
        max_epochs=10,
        model=model,
        fast_dev_run=True,
        checkpoint_dir=tmp_path / "ckpt",
        log_csv=tmp_path / "log.csv",
        early_stopping=EarlyStopping(patience=0),
    )
    assert (model.train_calls, model.eval_calls) == (1, 1)
    assert len(history) == 1 and history.stop_reason == "fast_dev_run"
    assert list(tmp_path.iterdir()) == []


class FakeClock:
    """Stands in for the time module inside i2dl.training; advanced by the model."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_max_time_stops_after_the_batch_that_crosses_the_limit(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)

    def tick(is_training):
        clock.now += 1.0 if is_training else 0.0

    model = CountingModel(make_mlp(0), on_call=tick)
    history, *_ = _fit(max_epochs=5, model=model, max_time=2.5)  # 10 train batches per epoch
    assert model.train_calls == 3  # at 3 s the limit has passed
    assert model.eval_calls == 4  # the cut-short epoch is still validated
    assert len(history) == 1 and history.stop_reason == "max_time"


def test_max_time_passed_during_validation_stops_after_that_epoch(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(training, "time", clock)

    def tick(is_training):
        clock.now += 0.0 if is_training else 1.0

    model = CountingModel(make_mlp(0), on_call=tick)
    history, *_ = _fit(max_epochs=5, model=model, max_time=6.0)  # 4 val batches per epoch
    assert (model.train_calls, model.eval_calls) == (2 * 10, 2 * 4)
    assert history.stop_reason == "max_time"


def test_grad_clip_norm_bounds_each_step():
    X = torch.randn(64, 2) * 10
    loader = training.make_loader(X, torch.randint(0, 3, (64,)), batch_size=64)

    def step_size(clip):
        model = make_mlp(0)
        before = flat_parameters(model)
        trainer = Trainer(1, progress=False, grad_clip_norm=clip)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        trainer.fit(model, loader, loader, optimizer, nn.CrossEntropyLoss())
        return (flat_parameters(model) - before).norm().item()

    assert step_size(None) > 0.1
    assert step_size(1e-3) == pytest.approx(1e-3, rel=1e-4)


def test_scheduler_is_stepped_once_per_epoch(tmp_path):
    training.seed_everything(0)
    model = make_mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = Trainer(3, progress=False, checkpoint_dir=tmp_path)
    history = trainer.fit(model, *blob_loaders(), optimizer, nn.CrossEntropyLoss(), scheduler)
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])
    assert torch.load(tmp_path / "last.pt")["scheduler_state_dict"]["last_epoch"] == 3


def test_reduce_lr_on_plateau_gets_the_validation_loss():
    model = make_mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    # A huge absolute threshold: no epoch after the first counts as an improvement.
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, patience=0, threshold=1e9, threshold_mode="abs"
    )
    history = Trainer(4, progress=False).fit(
        model, *blob_loaders(), optimizer, nn.CrossEntropyLoss(), scheduler
    )
    assert history.lr == pytest.approx([0.1, 0.1, 0.01, 0.001])


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_on_cpu_warns_and_trains_in_full_precision(precision):
    with pytest.warns(UserWarning, match=f"precision='{precision}' needs CUDA; training in full"):
        history, model, *_ = _fit(precision=precision)
    reference, reference_model, *_ = _fit(precision="32")
    assert history.train_loss == reference.train_loss
    assert _same_state(model.state_dict(), reference_model.state_dict())


def test_full_precision_does_not_warn_and_unknown_precision_is_rejected():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(1, precision="32")
    with pytest.raises(ValueError, match=r"precision='fp16'; expected one of \['32', '16-mixed'"):
        Trainer(1, precision="fp16")


@pytest.mark.parametrize("max_epochs", [0, -3, 2.0, True])
def test_max_epochs_must_be_a_positive_int(max_epochs):
    with pytest.raises(ValueError, match="max_epochs must be a positive int"):
        Trainer(max_epochs)


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar_can_be_turned_off(capsys, progress):
    training.seed_everything(0)
    model = make_mlp(0)
    trainer = Trainer(2, progress=progress)
    trainer.fit(model, *blob_loaders(), torch.optim.SGD(model.parameters(), 0.1),
                nn.CrossEntropyLoss())
    err = capsys.readouterr().err
    assert ("epoch 2/2" in err) is progress
    assert (err == "") is not progress


def test_fit_does_not_change_the_data():
    train_loader, val_loader = blob_loaders()
    before = [t.clone() for t in (*train_loader.dataset.tensors, *val_loader.dataset.tensors)]
    _fit(loaders=(train_loader, val_loader), max_epochs=1)
    after = (*train_loader.dataset.tensors, *val_loader.dataset.tensors)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_a_diverged_loss_stops_early_stopping_at_once():
    history, *_ = _fit(max_epochs=5, lr=1e30, early_stopping=EarlyStopping(patience=3))
    assert not math.isfinite(history.val_loss[-1])
    assert history.stop_reason == "early_stopping"
    assert len(history) < 5


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
def test_the_autocast_path_runs_forward_in_low_precision(amp_dtype):
    # CUDA is not needed to exercise the code path: force the dtype it would pick.
    seen = []

    def loss_fn(y_hat, y):
        seen.append(y_hat.dtype)
        return nn.functional.cross_entropy(y_hat, y)

    training.seed_everything(0)
    model = make_mlp(0)
    trainer = Trainer(3, device="cpu", progress=False, grad_clip_norm=1.0)
    trainer.amp_dtype = amp_dtype
    history = trainer.fit(
        model, *blob_loaders(), torch.optim.Adam(model.parameters(), lr=0.05), loss_fn
    )
    assert set(seen) == {amp_dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert history.val_metric[-1] > 0.95
