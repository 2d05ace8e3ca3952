"""i2dl.optim against torch.optim and torch.optim.lr_scheduler, in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from i2dl import optim

pytestmark = pytest.mark.optim

SHAPES = {"W": (3, 4), "b": (4,), "K": (2, 3, 2), "s": ()}

# (class name, hyper-parameters): passed unchanged to both i2dl.optim and torch.optim.
CONFIGS = [
    ("SGD", {"lr": 1e-3}),
    ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 2e-3, "weight_decay": 0.5}),
    ("SGD", {"lr": 5e-4, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 1e-3, "alpha": 0.9, "eps": 1e-4}),
    ("Adam", {}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99)}),
    ("Adam", {"lr": 1e-2, "weight_decay": 0.1}),
    ("Adam", {"lr": 3e-2, "betas": (0.0, 0.5), "eps": 1e-4, "weight_decay": 0.01}),
]


def rosenbrock(tensors):
    """A Rosenbrock valley over all entries of all tensors, so every parameter is coupled."""
    x = torch.cat([t.reshape(-1) for t in tensors.values()])
    return torch.sum((1 - x[:-1]) ** 2 + 10 * (x[1:] - x[:-1] ** 2) ** 2)


def rosenbrock_grads(params):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    rosenbrock(tensors).backward()
    return {k: t.grad.numpy() for k, t in tensors.items()}


def initial_params(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(-1.5, 1.5, size=shape) for k, shape in SHAPES.items()}


def config_id(config):
    name, kwargs = config
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_trajectory_matches_torch(config):
    name, kwargs = config
    params = initial_params()
    start = {k: v.copy() for k, v in params.items()}
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ours = getattr(optim, name)(**kwargs)
    theirs = getattr(torch.optim, name)(list(tensors.values()), **kwargs)

    for step in range(50):
        ours.step(params, rosenbrock_grads(params))
        theirs.zero_grad()
        rosenbrock(tensors).backward()
        theirs.step()
        for k, param in params.items():
            expected = tensors[k].detach().numpy()
            np.testing.assert_allclose(
                param, expected, rtol=1e-6, atol=1e-12, err_msg=f"{k} after step {step + 1}"
            )
    moved = max(np.max(np.abs(params[k] - start[k])) for k in params)
    assert moved > 1e-2


@given(
    name=st.sampled_from(["SGD", "Adagrad", "RMSprop", "Adam"]),
    grads=st.lists(
        hnp.arrays(np.float64, (2, 3), elements=st.floats(-10, 10, allow_subnormal=False)),
        min_size=1,
        max_size=5,
    ),
)
@settings(max_examples=30, deadline=None)
def test_arbitrary_gradient_sequences_match_torch(name, grads):
    kwargs = {
        "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        "Adagrad": {"lr": 0.1},
        "RMSprop": {"lr": 0.01},
        "Adam": {"lr": 0.1, "weight_decay": 0.1},
    }[name]
    params = {"w": np.linspace(-1, 1, 6).reshape(2, 3)}
    tensor = torch.tensor(params["w"], requires_grad=True)
    ours = getattr(optim, name)(**kwargs)
    theirs = getattr(torch.optim, name)([tensor], **kwargs)
    for grad in grads:
        ours.step(params, {"w": grad})
        tensor.grad = torch.tensor(grad)
        theirs.step()
        np.testing.assert_allclose(params["w"], tensor.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "Adam"])
def test_defaults_match_torch(name):
    ours = getattr(optim, name)()
    defaults = getattr(torch.optim, name)([torch.zeros(1)]).defaults
    for key, value in vars(ours).items():
        if key != "state":
            assert value == pytest.approx(defaults[key]), key


def test_sgd_defaults_match_torch():
    ours = optim.SGD(lr=0.1)
    defaults = torch.optim.SGD([torch.zeros(1)], lr=0.1).defaults
    assert (ours.momentum, ours.nesterov, ours.weight_decay) == (
        defaults["momentum"],
        defaults["nesterov"],
        defaults["weight_decay"],
    )


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_step_updates_arrays_in_place_and_leaves_grads_alone(config):
    name, kwargs = config
    params = initial_params()
    arrays = dict(params)
    before = {k: v.copy() for k, v in params.items()}
    grads = rosenbrock_grads(params)
    grads_before = {k: v.copy() for k, v in grads.items()}
    getattr(optim, name)(**kwargs).step(params, grads)
    for k in params:
        assert params[k] is arrays[k]
        assert not np.array_equal(params[k], before[k])
        np.testing.assert_array_equal(grads[k], grads_before[k])


def test_state_is_kept_per_key():
    opt = optim.Adam(lr=0.1)
    params = {"a": np.zeros(3), "b": np.zeros((2, 2))}
    opt.step(params, {"a": np.ones(3), "b": np.ones((2, 2))})
    opt.step({"a": params["a"]}, {"a": np.ones(3)})
    assert opt.state["a"]["step"] == 2
    assert opt.state["b"]["step"] == 1
    assert opt.state["b"]["m"].shape == (2, 2)


@pytest.mark.parametrize("method", ["reset", "zero_state"])
def test_reset_forgets_state(method):
    grads = {"w": np.array([1.0, -2.0])}
    used = optim.SGD(lr=0.1, momentum=0.9)
    used_params = {"w": np.zeros(2)}
    used.step(used_params, grads)
    getattr(used, method)()
    fresh_params = {"w": used_params["w"].copy()}
    used.step(used_params, grads)
    optim.SGD(lr=0.1, momentum=0.9).step(fresh_params, grads)
    np.testing.assert_array_equal(used_params["w"], fresh_params["w"])
    assert used.lr == 0.1


def test_changed_parameter_shape_needs_reset():
    opt = optim.RMSprop()
    opt.step({"a": np.zeros(2), "w": np.zeros(3)}, {"a": np.ones(2), "w": np.ones(3)})
    params = {"a": np.zeros(2), "w": np.zeros(4)}
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\).*reset"):
        opt.step(params, {"a": np.ones(2), "w": np.ones(4)})
    np.testing.assert_array_equal(params["a"], np.zeros(2))
    opt.reset()
    opt.step({"w": np.zeros(4)}, {"w": np.ones(4)})


def test_mismatched_keys_are_named():
    params = {"W": np.zeros(2), "b": np.zeros(1)}
    with pytest.raises(ValueError, match=r"missing from grads: \['b'\], only in grads: \['c'\]"):
        optim.SGD(lr=0.1).step(params, {"W": np.zeros(2), "c": np.zeros(1)})
    np.testing.assert_array_equal(params["W"], np.zeros(2))


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3, 2\).*shape \(2, 3\)"):
        optim.Adam().step({"W": np.zeros((2, 3))}, {"W": np.zeros((3, 2))})


@pytest.mark.parametrize("param", [[0.0, 1.0], np.arange(3)], ids=["list", "int-array"])
def test_params_must_be_float_arrays(param):
    with pytest.raises(TypeError, match="floating-point numpy array"):
        optim.SGD(lr=0.1).step({"w": param}, {"w": np.ones(np.shape(param))})


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("SGD", {"lr": 0.0}, "lr must be a positive number"),
        ("SGD", {"lr": -0.1}, "lr must be a positive number"),
        ("SGD", {"lr": float("nan")}, "lr must be a positive number"),
        ("SGD", {"lr": 0.1, "momentum": -0.5}, "momentum must be a number >= 0"),
        ("SGD", {"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0"),
        ("SGD", {"lr": 0.1, "weight_decay": -1.0}, "weight_decay must be a number >= 0"),
        ("Adagrad", {"lr": "0.1"}, "lr must be a positive number"),
        ("Adagrad", {"eps": -1e-10}, "eps must be a number >= 0"),
        ("RMSprop", {"alpha": 1.0}, r"alpha must be in \[0, 1\)"),
        ("RMSprop", {"alpha": -0.1}, r"alpha must be in \[0, 1\)"),
        ("Adam", {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
        ("Adam", {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        ("Adam", {"betas": (0.9,)}, "betas must be a pair"),
        ("Adam", {"weight_decay": -0.1}, "weight_decay must be a number >= 0"),
    ],
)
def test_invalid_hyper_parameters_are_rejected(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)(**kwargs)


def test_torch_also_rejects_nesterov_without_momentum():
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.zeros(1)], lr=0.1, nesterov=True)


def test_repr_shows_hyper_parameters():
    assert repr(optim.SGD(lr=0.5, momentum=0.9)) == (
        "SGD(lr=0.5, momentum=0.9, nesterov=False, weight_decay=0.0)"
    )


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (optim.StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 3, "gamma": 0.5}),
        (optim.StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 1}),
        (optim.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, {"gamma": 0.9}),
    ],
)
def test_schedules_match_torch(ours, theirs, kwargs):
    opt = optim.SGD(lr=0.2)
    torch_opt = torch.optim.SGD([torch.zeros(1)], lr=0.2)
    scheduler = ours(opt, **kwargs)
    torch_scheduler = theirs(torch_opt, **kwargs)
    for _ in range(20):
        torch_opt.step()
        scheduler.step()
        torch_scheduler.step()
        assert opt.lr == pytest.approx(torch_scheduler.get_last_lr()[0], rel=1e-12)
    assert scheduler.epoch == 20


def test_inverse_time_schedule():
    opt = optim.Adam(lr=0.3)
    scheduler = optim.InverseTimeLR(opt, decay=0.5)
    lrs = []
    for _ in range(4):
        scheduler.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.3 / 1.5, 0.3 / 2.0, 0.3 / 2.5, 0.3 / 3.0], rtol=1e-15)
    assert scheduler.lr_at(0) == 0.3


def test_scheduled_training_matches_torch():
    params = initial_params(seed=1)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ours = optim.SGD(lr=2e-3, momentum=0.9)
    theirs = torch.optim.SGD(list(tensors.values()), lr=2e-3, momentum=0.9)
    our_scheduler = optim.StepLR(ours, step_size=2, gamma=0.5)
    torch_scheduler = torch.optim.lr_scheduler.StepLR(theirs, step_size=2, gamma=0.5)
    for _epoch in range(6):
        for _ in range(5):
            ours.step(params, rosenbrock_grads(params))
            theirs.zero_grad()
            rosenbrock(tensors).backward()
            theirs.step()
        our_scheduler.step()
        torch_scheduler.step()
    for k, param in params.items():
        np.testing.assert_allclose(param, tensors[k].detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda opt: optim.StepLR(opt, step_size=0), "step_size must be a positive integer"),
        (lambda opt: optim.StepLR(opt, step_size=1.5), "step_size must be a positive integer"),
        (lambda opt: optim.StepLR(opt, step_size=2, gamma=0.0), "gamma must be a positive"),
        (lambda opt: optim.ExponentialLR(opt, gamma=-0.9), "gamma must be a positive"),
        (lambda opt: optim.InverseTimeLR(opt, decay=-1.0), "decay must be a number >= 0"),
    ],
)
def test_invalid_schedule_arguments_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make(optim.SGD(lr=0.1))
