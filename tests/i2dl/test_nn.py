"""i2dl.nn modules against torch.nn in float64, numerical gradients and the Module contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient, rel_error
from i2dl.layers import dropout_forward
from i2dl.nn import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    init,
)
from i2dl.optim import SGD
from tests.strategies import seeds

pytestmark = pytest.mark.nn

FORWARD_RTOL = 1e-10
GRAD_RTOL = 1e-8


def frozen(array: np.ndarray) -> np.ndarray:
    """A read-only float64 copy: writing into it raises, which proves nothing is mutated."""
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array


def assert_close(actual, expected, rtol=GRAD_RTOL):
    """Agreement relative to the largest entry of ``expected`` (sums of mixed signs round)."""
    expected = np.asarray(expected)
    scale = np.max(np.abs(expected), initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def torch_pass(module: torch.nn.Module, x: np.ndarray, dout: np.ndarray):
    """Output, input gradient and parameter gradients of a torch module in float64."""
    x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    module.zero_grad()
    out = module(x_t)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    grads = {name: p.grad.numpy().copy() for name, p in module.named_parameters()}
    return out.detach().numpy(), x_t.grad.numpy(), grads


def transposed_linear_weights(model: Module, arrays: dict[str, np.ndarray]) -> dict:
    """``arrays`` with every Linear weight transposed into torch's (out, in) orientation."""
    linear_weights = {
        f"{name}.weight" if name else "weight"
        for name, module in model.named_modules()
        if isinstance(module, Linear)
    }
    return {key: value.T if key in linear_weights else value for key, value in arrays.items()}


def to_torch(model: Module, torch_model: torch.nn.Module) -> None:
    """Copy the state of an i2dl model into a torch model with the same architecture."""
    state = transposed_linear_weights(model, model.state_dict())
    result = torch_model.load_state_dict(
        {key: torch.tensor(np.ascontiguousarray(v)) for key, v in state.items()}, strict=False
    )
    assert result.unexpected_keys == []
    assert all(key.endswith("num_batches_tracked") for key in result.missing_keys)


def assert_matches_torch(model, torch_model, x, dout, rtol=GRAD_RTOL):
    out = model(frozen(x))
    dx = model.backward(frozen(dout))
    out_t, dx_t, grads_t = torch_pass(torch_model, x, dout)
    assert_close(out, out_t, FORWARD_RTOL)
    assert_close(dx, dx_t, rtol)
    grads = transposed_linear_weights(model, model.grads)
    assert grads.keys() == grads_t.keys()
    for name, grad in grads.items():
        assert_close(grad, grads_t[name], rtol)


# -- single modules against torch.nn --------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6), d=st.integers(1, 6), m=st.integers(1, 6), bias=st.booleans(), seed=seeds
)
def test_linear_matches_torch_with_transposed_weight(n, d, m, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(d, m, bias=bias, seed=rng)
    assert layer.params["weight"].shape == (d, m)
    torch_layer = torch.nn.Linear(d, m, bias=bias, dtype=torch.float64)
    to_torch(layer, torch_layer)
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, m))
    assert_matches_torch(layer, torch_layer, x, dout)


@pytest.mark.parametrize(
    ("module", "torch_module"),
    [
        (ReLU(), torch.nn.ReLU()),
        (Sigmoid(), torch.nn.Sigmoid()),
        (Tanh(), torch.nn.Tanh()),
        (LeakyReLU(), torch.nn.LeakyReLU()),
        (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    ],
    ids=repr,
)
def test_activations_match_torch(module, torch_module):
    rng = np.random.default_rng(0)
    x, dout = 3 * rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    assert_matches_torch(module, torch_module, x, dout)
    assert repr(module) == repr(torch_module)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    bias=st.booleans(),
    seed=seeds,
)
def test_conv2d_matches_torch(n, c, f, kernel, stride, padding, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Conv2d(c, f, kernel, stride=stride, padding=padding, bias=bias, seed=rng)
    torch_layer = torch.nn.Conv2d(
        c, f, kernel, stride=stride, padding=padding, bias=bias, dtype=torch.float64
    )
    to_torch(layer, torch_layer)
    x = rng.standard_normal((n, c, 5, 6))
    out_shape = torch_layer(torch.tensor(x)).shape
    assert_matches_torch(layer, torch_layer, x, rng.standard_normal(out_shape))
    assert repr(layer) == repr(torch_layer)


@settings(max_examples=30, deadline=None)
@given(kernel_size=st.integers(1, 3), stride=st.none() | st.integers(1, 3), seed=seeds)
def test_max_pool_matches_torch(kernel_size, stride, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 6, 7))
    torch_pool = torch.nn.MaxPool2d(kernel_size, stride)
    dout = rng.standard_normal(torch_pool(torch.tensor(x)).shape)
    assert_matches_torch(MaxPool2d(kernel_size, stride), torch_pool, x, dout)


def test_max_pool_stride_defaults_to_kernel_size():
    assert MaxPool2d(3).stride == 3
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2)"


def test_flatten_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4, 5))
    assert_matches_torch(Flatten(), torch.nn.Flatten(), x, rng.standard_normal((3, 40)))


def test_batchnorm_matches_torch_over_several_steps_then_in_eval_mode():
    rng = np.random.default_rng(0)
    layer = BatchNorm1d(4, momentum=0.3)
    torch_layer = torch.nn.BatchNorm1d(4, momentum=0.3, dtype=torch.float64)
    layer.params["weight"][...] = rng.uniform(0.5, 2.0, 4)
    layer.params["bias"][...] = rng.standard_normal(4)
    to_torch(layer, torch_layer)
    for step in range(4):
        x = 2.0 + 3.0 * rng.standard_normal((6 + step, 4))
        assert_matches_torch(layer, torch_layer, x, rng.standard_normal(x.shape))
        assert_close(layer.buffers["running_mean"], torch_layer.running_mean.numpy())
        assert_close(layer.buffers["running_var"], torch_layer.running_var.numpy())
    layer.eval()
    torch_layer.eval()
    x = rng.standard_normal((5, 4))
    assert_matches_torch(layer, torch_layer, x, rng.standard_normal(x.shape))
    # A single example is fine in eval mode.
    assert_matches_torch(layer, torch_layer, x[:1], rng.standard_normal((1, 4)))


def test_batchnorm_eval_mode_leaves_running_statistics_alone():
    layer = BatchNorm1d(3)
    layer(np.random.default_rng(0).standard_normal((8, 3)))
    before = layer.state_dict()
    layer.eval()(np.random.default_rng(1).standard_normal((8, 3)))
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def build_cnn(rng) -> tuple[Sequential, torch.nn.Sequential]:
    model = Sequential(
        Conv2d(2, 3, 3, padding=1, seed=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(12, 5, bias=False, seed=rng),  # a bias before batch norm would cancel out
        BatchNorm1d(5),
        Tanh(),
        Linear(5, 3, seed=rng),
    )
    torch_model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(12, 5, bias=False),
        torch.nn.BatchNorm1d(5),
        torch.nn.Tanh(),
        torch.nn.Linear(5, 3),
    ).double()
    to_torch(model, torch_model)
    return model, torch_model


def test_sequential_matches_torch_in_train_and_eval_mode():
    rng = np.random.default_rng(0)
    model, torch_model = build_cnn(rng)
    x = rng.standard_normal((4, 2, 4, 4))
    assert_matches_torch(model, torch_model, x, rng.standard_normal((4, 3)))
    assert_close(model.buffers["5.running_var"], torch_model[5].running_var.numpy())
    model.eval()
    torch_model.eval()
    assert_matches_torch(model, torch_model, x, rng.standard_normal((4, 3)))


def test_names_shapes_and_counts_match_torch():
    model, torch_model = build_cnn(np.random.default_rng(0))
    torch_state = torch_model.state_dict()
    del torch_state["5.num_batches_tracked"]
    assert list(model.state_dict()) == list(torch_state)
    assert list(model.params) == [name for name, _ in torch_model.named_parameters()]
    assert model.params["4.weight"].shape == tuple(torch_model[4].weight.shape[::-1])
    assert model.params["0.weight"].shape == tuple(torch_model[0].weight.shape)
    assert model.num_parameters() == sum(p.numel() for p in torch_model.parameters())


def test_sgd_on_model_params_follows_torch_training():
    rng = np.random.default_rng(1)
    model, torch_model = build_cnn(rng)
    optimizer = SGD(lr=0.1, momentum=0.9)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1, momentum=0.9)
    x, dout = rng.standard_normal((6, 2, 4, 4)), rng.standard_normal((6, 3))
    for _ in range(3):
        model(x)
        model.backward(dout)
        optimizer.step(model.params, model.grads)
        torch_pass(torch_model, x, dout)
        torch_optimizer.step()
    expected = {name: p.detach().numpy() for name, p in torch_model.named_parameters()}
    for name, param in transposed_linear_weights(model, model.params).items():
        assert_close(param, expected[name])


# -- gradient checks ------------------------------------------------------------------------


def check_parameter_gradients(model: Module, x: np.ndarray) -> None:
    """Analytic gradients of ``sum(model(x) * dout)`` against central differences."""
    dout = np.random.default_rng(1).standard_normal(model(x).shape)
    dx = model.backward(dout)
    analytic = {name: grad.copy() for name, grad in model.grads.items()}

    def objective(_):
        return np.sum(model(x) * dout)

    # The parameter arrays are the model's own, so perturbing them in place changes the model.
    for name, param in model.params.items():
        assert rel_error(analytic[name], numerical_gradient(objective, param)) < 1e-7, name
    assert rel_error(dx, numerical_gradient(objective, x)) < 1e-7


def test_gradient_check_of_an_mlp():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(4, 6, seed=rng), ReLU(), Linear(6, 3, seed=rng))
    check_parameter_gradients(model, rng.standard_normal((5, 4)))


def test_gradient_check_of_a_tiny_cnn():
    rng = np.random.default_rng(0)
    model = Sequential(
        Conv2d(2, 3, 3, padding=1, seed=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(12, 3, seed=rng),
    )
    check_parameter_gradients(model, rng.standard_normal((2, 2, 4, 4)))


# -- the Module contract --------------------------------------------------------------------


def test_container_dicts_hold_the_childrens_arrays_so_optimizers_train_them():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(3, 4, seed=rng), ReLU(), Linear(4, 2, seed=rng))
    assert model.params["0.weight"] is model[0].params["weight"]
    assert model.grads["2.bias"] is model[2].grads["bias"]
    assert model.params.keys() == model.grads.keys()
    grads = model.grads  # taken before backward: later gradients land in the same arrays
    model(rng.standard_normal((5, 3)))
    model.backward(np.ones((5, 2)))
    np.testing.assert_array_equal(grads["2.bias"], np.full(2, 5.0))
    before = model[0].params["weight"].copy()
    SGD(lr=0.5).step(model.params, model.grads)
    np.testing.assert_array_equal(model[0].params["weight"], before - 0.5 * grads["0.weight"])


def test_backward_overwrites_and_zero_grad_clears_in_place():
    layer = Linear(2, 2, seed=0)
    x = np.ones((3, 2))
    layer(x)
    layer.backward(np.ones((3, 2)))
    first = layer.grads["weight"].copy()
    layer(x)
    layer.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(layer.grads["weight"], first)
    grad = layer.grads["weight"]
    layer.zero_grad()
    assert grad is layer.grads["weight"]
    assert not grad.any()


def test_nothing_is_mutated():
    """Inputs are read-only arrays, so any write into them raises."""
    rng = np.random.default_rng(0)
    model, _ = build_cnn(rng)
    model = Sequential(*model, Dropout(0.5, seed=0))
    x, dout = frozen(rng.standard_normal((3, 2, 4, 4))), frozen(rng.standard_normal((3, 3)))
    model(x)
    model.backward(dout)
    state = model.state_dict()
    frozen_state = {name: frozen(value) for name, value in state.items()}
    model.load_state_dict(frozen_state)


def test_state_dict_round_trip_copies_values():
    model, _ = build_cnn(np.random.default_rng(0))
    model(np.random.default_rng(1).standard_normal((4, 2, 4, 4)))  # moves running stats
    state = model.state_dict()
    assert state["5.running_mean"].any()
    other, _ = build_cnn(np.random.default_rng(2))
    other.load_state_dict(state)
    state["0.weight"][...] = 0.0  # the model keeps its own copy
    assert other.params["0.weight"].any()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[name], value)
    model.state_dict()["0.weight"][...] = 0.0  # and state_dict returns copies
    assert model.params["0.weight"].any()
    x = np.random.default_rng(3).standard_normal((2, 2, 4, 4))
    np.testing.assert_array_equal(other.eval()(x), model.eval()(x))


def test_load_state_dict_rejects_bad_keys_and_shapes_without_changing_anything():
    model = Sequential(Linear(3, 4, seed=0), BatchNorm1d(4))
    state = model.state_dict()
    good = {name: value + 1.0 for name, value in state.items()}
    with pytest.raises(KeyError, match=r"missing: \['1.running_var'\]"):
        model.load_state_dict({k: v for k, v in good.items() if k != "1.running_var"})
    with pytest.raises(KeyError, match=r"unexpected: \['2.weight'\]"):
        model.load_state_dict({**good, "2.weight": np.ones(3)})
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 4\).*\(4, 3\).*weight.T"):
        model.load_state_dict({**good, "0.weight": good["0.weight"].T})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


def test_train_and_eval_switch_every_module():
    model = Sequential(Linear(3, 3, seed=0), Sequential(Dropout(0.5, seed=0), BatchNorm1d(3)))
    assert model.eval() is model
    assert not any(module.training for _, module in model.named_modules())
    assert model.train() is model
    assert all(module.training for _, module in model.named_modules())


def test_dropout_masks_in_training_and_identity_in_eval():
    x = np.random.default_rng(0).standard_normal((50, 40))
    layer = Dropout(0.3, seed=7)
    out = layer(x)
    expected, mask = dropout_forward(x, 0.3, np.random.default_rng(7))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), mask)
    assert 0.2 < np.mean(out == 0) < 0.4
    assert not np.array_equal(layer(x), out)  # a new mask for every batch
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(2 * x), 2 * x)


def test_batchnorm_train_uses_batch_and_eval_uses_running_statistics():
    layer = BatchNorm1d(2, momentum=1.0)  # running statistics = those of the last batch
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    out = layer(x)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], x.var(axis=0, ddof=1))
    layer.eval()
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="larger batch"):
        layer.train()(x[:1])


class TwoLayerNet(Module):
    """A user-defined network: sub-modules assigned as attributes are registered."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = Linear(2, 4, seed=0)
        self.act = ReLU()
        self.fc2 = Linear(4, 3, seed=1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

    def backward(self, dout):
        return self.fc1.backward(self.act.backward(self.fc2.backward(dout)))


def test_custom_modules_register_attribute_children():
    net = TwoLayerNet()
    assert list(net.params) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert net.num_parameters() == 2 * 4 + 4 + 4 * 3 + 3
    check_parameter_gradients(net, np.random.default_rng(0).standard_normal((3, 2)))
    assert repr(net) == (
        "TwoLayerNet(\n"
        "  (fc1): Linear(in_features=2, out_features=4, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=4, out_features=3, bias=True)\n"
        ")"
    )


def test_repr_nests_like_torch():
    model = Sequential(
        Conv2d(1, 2, (2, 3), stride=2, bias=False),
        Sequential(Dropout(0.25), BatchNorm1d(4)),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 2, kernel_size=(2, 3), stride=(2, 2), bias=False)\n"
        "  (1): Sequential(\n"
        "    (0): Dropout(p=0.25)\n"
        "    (1): BatchNorm1d(4, eps=1e-05, momentum=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"\(N, 12\), got \(2, 3, 2, 2\).*Flatten"):
        Linear(12, 2)(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"\(N, 12\), got \(2, 10\).*previous layer"):
        Linear(12, 2)(np.ones((2, 10)))
    with pytest.raises(RuntimeError, match="before forward"):
        ReLU().backward(np.ones(3))
    layer = Tanh()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(3,\)"):
        layer.backward(np.ones(3))
    with pytest.raises(TypeError, match=r"did you mean ReLU\(\)"):
        Sequential(Linear(2, 2), ReLU)
    with pytest.raises(AttributeError, match="add_parameter"):
        Linear(2, 2).params = {}

    class Forgetful(Module):
        def __init__(self):
            self.fc = Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Forgetful()


# -- initialisers ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=5).map(tuple))
def test_fans_match_torch(shape):
    torch_shape = shape[::-1] if len(shape) == 2 else shape  # dense weights are transposed
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert init.fan_in_and_fan_out(shape) == expected


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_gains_match_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


DENSE, CONV = (300, 400), (64, 32, 5, 5)
INITIALISERS = [
    # (our initialiser, its torch counterpart, keyword arguments, expected variance)
    (init.xavier_uniform, torch.nn.init.xavier_uniform_, {}, 2 / 700),
    (init.xavier_normal, torch.nn.init.xavier_normal_, {"gain": 5 / 3}, (5 / 3) ** 2 * 2 / 700),
    (init.kaiming_uniform, torch.nn.init.kaiming_uniform_, {}, 2 / 300),
    (init.kaiming_normal, torch.nn.init.kaiming_normal_, {"mode": "fan_out"}, 2 / 400),
    (init.he_normal, torch.nn.init.kaiming_normal_, {"nonlinearity": "tanh"}, (25 / 9) / 300),
    (init.glorot_normal, torch.nn.init.xavier_normal_, {}, 2 / 700),
    (init.he_uniform, torch.nn.init.kaiming_uniform_, {"a": 0.5}, 2 / 1.25 / 300),
]


@pytest.mark.parametrize(("ours", "theirs", "kwargs", "variance"), INITIALISERS)
def test_dense_initialisers_have_torchs_variance(ours, theirs, kwargs, variance):
    weight = ours(DENSE, **kwargs, seed=0)
    torch.manual_seed(0)
    torch_weight = theirs(torch.empty(DENSE[::-1], dtype=torch.float64), **kwargs).numpy()
    # Relative standard error of a sample variance from 120000 draws: about 0.4 %.
    assert weight.var() == pytest.approx(variance, rel=0.03)
    assert torch_weight.var() == pytest.approx(variance, rel=0.03)
    assert abs(weight.mean()) < 5 * math.sqrt(variance / weight.size)
    if "uniform" in ours.__name__:
        bound = math.sqrt(3 * variance)
        assert np.abs(weight).max() <= bound
        assert np.abs(weight).max() > 0.999 * bound


def test_conv_initialisers_use_the_receptive_field():
    fan_in, fan_out = 32 * 25, 64 * 25
    assert init.kaiming_normal(CONV, seed=0).var() == pytest.approx(2 / fan_in, rel=0.03)
    weight = init.kaiming_uniform(CONV, mode="fan_out", nonlinearity="relu", seed=0)
    assert np.abs(weight).max() <= math.sqrt(6 / fan_out)
    assert weight.var() == pytest.approx(2 / fan_out, rel=0.03)
    assert init.xavier_normal(CONV, seed=0).var() == pytest.approx(2 / (fan_in + fan_out), rel=0.03)


def test_initialisers_are_reproducible_and_share_generators():
    np.testing.assert_array_equal(
        init.xavier_normal((3, 4), seed=5), init.xavier_normal((3, 4), seed=5)
    )
    rng = np.random.default_rng(5)
    first, second = init.kaiming_normal((3, 4), seed=rng), init.kaiming_normal((3, 4), seed=rng)
    assert not np.array_equal(first, second)  # the generator advanced
    expected = np.random.default_rng(5).normal(0, math.sqrt(2 / 3), (3, 4))
    np.testing.assert_allclose(first, expected, rtol=1e-14)
    with pytest.raises(ValueError, match="at least two axes"):
        init.xavier_uniform((5,))
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal((3, 4), mode="fan")
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")


def test_default_initialisation_is_torchs():
    layer = Linear(400, 300, seed=0)
    bound = 1 / math.sqrt(400)
    for value in layer.params.values():
        assert np.abs(value).max() <= bound
        assert np.abs(value).max() > 0.99 * bound
    assert layer.params["weight"].var() == pytest.approx(bound**2 / 3, rel=0.03)
    conv = Conv2d(32, 64, 5, seed=0)
    assert conv.params["weight"].var() == pytest.approx(1 / (3 * 32 * 25), rel=0.03)
    np.testing.assert_array_equal(
        Linear(3, 2, seed=4).params["weight"], Linear(3, 2, seed=4).params["weight"]
    )
