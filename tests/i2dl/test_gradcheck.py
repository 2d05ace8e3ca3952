"""i2dl.gradcheck on functions with known derivatives, and check_gradients' failure reports."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings

from i2dl.gradcheck import (
    check_gradients,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)
from i2dl.layers import affine_backward, affine_forward
from tests.strategies import float_arrays, seeds, shapes

pytestmark = pytest.mark.gradcheck

KNOWN_DERIVATIVES = {
    "sin": (lambda x: np.sum(np.sin(x)), np.cos),
    "cube": (lambda x: np.sum(x**3), lambda x: 3 * x**2),
    "exp": (lambda x: np.sum(np.exp(x)), np.exp),
}


def affine_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(2, 3, 2)), "w": rng.normal(size=(6, 4)), "b": rng.normal(size=4)}


def frozen(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("name", sorted(KNOWN_DERIVATIVES))
@settings(max_examples=25, deadline=None)
@given(x=float_arrays(shapes(max_dims=3, max_side=4), -2.0, 2.0))
def test_numerical_gradient_of_known_functions(name, x):
    f, derivative = KNOWN_DERIVATIVES[name]

    grad = numerical_gradient(f, x)

    np.testing.assert_allclose(grad, derivative(x), rtol=1e-6, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_numerical_gradient_of_matrix_products(seed):
    rng = np.random.default_rng(seed)
    a, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    x = rng.normal(size=4)

    # d trace(A W B) / dW = A^T B^T and d (x^T M x) / dx = (M + M^T) x. Rounding limits the
    # absolute accuracy to about eps * |f| / h, hence atol.
    np.testing.assert_allclose(
        numerical_gradient(lambda w: np.trace(a @ w @ b), w), a.T @ b.T, rtol=1e-7, atol=1e-9
    )
    quadratic = a.T @ a
    np.testing.assert_allclose(
        numerical_gradient(lambda x: x @ quadratic @ x, x),
        (quadratic + quadratic.T) @ x,
        rtol=1e-7,
        atol=1e-9,
    )


def test_numerical_gradient_restores_x_exactly_and_perturbs_it_in_place():
    x = np.array([[0.1, 0.7, -1.3], [2.9, 1e-3, 0.0]])
    original = x.copy()

    # f ignores its argument and reads x from the closure: the perturbation must be visible.
    grad = numerical_gradient(lambda _: np.sum(x**2), x)

    np.testing.assert_allclose(grad, 2 * original, atol=1e-9)
    assert x.tobytes() == original.tobytes()


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([0.1, 0.7, -1.3, 2.9])
    original = x.copy()
    calls = []

    def f(x):
        calls.append(x.copy())
        if len(calls) == 4:  # the second entry is perturbed at this point
            raise RuntimeError("student bug")
        return np.sum(x)

    with pytest.raises(RuntimeError, match="student bug"):
        numerical_gradient(f, x)
    assert not np.array_equal(calls[-1], original)
    assert x.tobytes() == original.tobytes()


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_numerical_gradient_array_of_known_functions(seed):
    rng = np.random.default_rng(seed)
    x, a = rng.normal(size=(3, 4)), rng.normal(size=(2, 3))
    dout_square, dout_product = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))

    np.testing.assert_allclose(
        numerical_gradient_array(lambda x: x**2, x, dout_square), 2 * x * dout_square, atol=1e-8
    )
    np.testing.assert_allclose(
        numerical_gradient_array(lambda x: a @ x, x, dout_product), a.T @ dout_product, atol=1e-8
    )


def test_numerical_gradient_array_of_identity_returning_x_itself():
    # f returns the very array being perturbed, so each value must be copied before the next step.
    x, dout = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])

    np.testing.assert_allclose(numerical_gradient_array(lambda x: x, x, dout), dout, rtol=1e-9)
    np.testing.assert_array_equal(x, [0.5, -1.0, 2.0])


def test_numerical_gradient_rejects_array_valued_f():
    with pytest.raises(ValueError, match=re.escape("shape (3,); for array-valued f use numerical")):
        numerical_gradient(lambda x: x**2, np.ones(3))


def test_numerical_gradient_array_rejects_f_of_the_wrong_shape():
    with pytest.raises(ValueError, match=re.escape("f(x) has shape (3,) but dout has shape (2,)")):
        numerical_gradient_array(lambda x: x, np.ones(3), np.ones(2))


@pytest.mark.parametrize("x", [np.arange(3), np.ones(3, dtype=np.float32), [1.0, 2.0]])
def test_numerical_gradient_needs_a_float64_array(x):
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(np.sum, x)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1.0, 1.0, 0.0),
        ([1.0, 2.0], [3.0, 2.0], 0.5),
        ([[1.0, -1.0]], [[1.0, 1.0]], 1.0),
        (0.0, 1e-9, 0.1),  # below 1e-8 the denominator is floored
        (np.zeros((2, 2)), np.zeros((2, 2)), 0.0),
    ],
)
def test_rel_error_values(a, b, expected):
    error = rel_error(a, b)

    assert type(error) is float
    assert error == pytest.approx(expected, rel=1e-12)
    assert rel_error(b, a) == error


def test_rel_error_refuses_to_broadcast():
    with pytest.raises(ValueError, match=re.escape("(3,) and (3, 1)")):
        rel_error(np.ones(3), np.ones((3, 1)))


def test_check_gradients_passes_a_correct_backward_without_mutating_inputs():
    inputs = {name: frozen(value) for name, value in affine_inputs().items()}

    errors = check_gradients(affine_forward, affine_backward, inputs)

    assert list(errors) == ["x", "w", "b"]
    assert all(0.0 <= error < 1e-7 for error in errors.values())
    for name, value in affine_inputs().items():
        np.testing.assert_array_equal(inputs[name], value)


def test_check_gradients_names_sequence_inputs():
    x, w, b = affine_inputs().values()

    assert list(check_gradients(affine_forward, affine_backward, [x, w, b])) == [
        "inputs[0]",
        "inputs[1]",
        "inputs[2]",
    ]
    assert list(
        check_gradients(affine_forward, affine_backward, (x, w, b), names=["x", "w", "b"])
    ) == [
        "x",
        "w",
        "b",
    ]


def test_check_gradients_draws_dout_from_the_seed():
    inputs = affine_inputs()
    dout = np.random.default_rng(7).standard_normal((2, 4))

    drawn = check_gradients(affine_forward, affine_backward, inputs, seed=7)
    given_dout = check_gradients(affine_forward, affine_backward, inputs, dout=dout)

    assert drawn == given_dout


def test_check_gradients_reports_input_index_and_values_of_a_wrong_gradient():
    inputs = affine_inputs()
    dout = np.random.default_rng(1).normal(size=(2, 4))

    def backward_with_wrong_db(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        db = db.copy()
        db[2] += 1.0
        return dx, dw, db

    with pytest.raises(AssertionError) as failure:
        check_gradients(affine_forward, backward_with_wrong_db, inputs, dout=dout)

    message = str(failure.value)
    b = inputs["b"].copy()
    numerical = numerical_gradient_array(
        lambda _: affine_forward(inputs["x"], inputs["w"], b)[0], b, dout, h=1e-5
    )
    analytic = dout.sum(axis=0)[2] + 1.0
    error = abs(analytic - numerical[2]) / (abs(analytic) + abs(numerical[2]))
    assert "'b'" in message and "'x'" not in message and "'w'" not in message
    assert "index (2,)" in message
    assert f"analytic {analytic:.10g}" in message
    assert f"numerical {numerical[2]:.10g}" in message
    assert f"relative error {error:.3g}" in message


def test_check_gradients_reports_every_failing_input_and_leaves_inputs_alone():
    inputs = {name: frozen(value) for name, value in affine_inputs().items()}

    def backward_with_two_mistakes(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, 2.0 * dw, -db

    with pytest.raises(AssertionError) as failure:
        check_gradients(affine_forward, backward_with_two_mistakes, inputs)

    message = str(failure.value)
    assert "failed for 'w': relative error" in message and "failed for 'b'" in message
    assert "'x'" not in message
    for name, value in affine_inputs().items():
        np.testing.assert_array_equal(inputs[name], value)


@pytest.mark.parametrize(
    ("backward", "message"),
    [
        (lambda dout, cache: None, "returned None: did you forget `return`?"),
        (lambda dout, cache: affine_backward(dout, cache)[:2], "returned 2 gradient(s) for 3"),
        (
            lambda dout, cache: (*affine_backward(dout, cache)[:2], None),
            "returned None as the gradient for 'b'",
        ),
        (
            lambda dout, cache: (*affine_backward(dout, cache)[:2], np.zeros((1, 4))),
            "the gradient for 'b' has shape (1, 4), but 'b' has shape (4,)",
        ),
    ],
)
def test_check_gradients_reports_malformed_gradients(backward, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_gradients(affine_forward, backward, affine_inputs())


def test_check_gradients_insists_on_forward_returning_out_and_cache():
    with pytest.raises(AssertionError, match=re.escape("(out, cache), got ndarray")):
        check_gradients(lambda x: 2.0 * x, lambda dout, cache: 2.0 * dout, [np.ones((2, 3))])


def test_check_gradients_catches_backward_writing_into_dout():
    def relu_like_backward(dout, cache):
        dout[cache <= 0] = 0.0
        return dout

    with pytest.raises(AssertionError, match="backward modified dout in place"):
        check_gradients(
            lambda x: (np.maximum(x, 0.0), x), relu_like_backward, [np.array([1.0, -1.0, 2.0])]
        )


def test_check_gradients_catches_forward_writing_into_its_input():
    def forward(x):
        x *= 2.0
        return x, None

    with pytest.raises(AssertionError, match="forward modified its input 'x'"):
        check_gradients(forward, lambda dout, cache: 2.0 * dout, {"x": np.ones(3)})


def test_check_gradients_rejects_inconsistent_arguments():
    inputs = affine_inputs()

    with pytest.raises(ValueError, match="2 names for 3 inputs"):
        check_gradients(affine_forward, affine_backward, list(inputs.values()), names=["x", "w"])
    with pytest.raises(ValueError, match="names only"):
        check_gradients(affine_forward, affine_backward, inputs, names=["x", "w", "b"])
    with pytest.raises(ValueError, match=re.escape("dout has shape (4, 2) but out has (2, 4)")):
        check_gradients(affine_forward, affine_backward, inputs, dout=np.ones((4, 2)))
