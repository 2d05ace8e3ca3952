"""i2dl.testing.assert_close: passes what matches, explains what does not."""

from __future__ import annotations

import numpy as np
import pytest

import i2dl.gradcheck
from i2dl.testing import assert_close, check_gradients, rel_error

pytestmark = pytest.mark.gradcheck


def failure_message(actual, expected, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        assert_close(actual, expected, **kwargs)
    return str(failure.value)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (1.0, 1.0),
        (np.float64(2.5), 2.5 + 1e-12),
        (np.array([[1.0, 2.0]]), np.array([[1.0, 2.0 + 1e-8]])),
        (np.array([0.0, 1e-10]), np.zeros(2)),  # within atol
        (np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, 1.0])),
        ([1.0, 2.0], np.array([1.0, 2.0])),
        (np.array([1, 2]), np.array([1, 2])),
        ((np.ones(2), 3.0), (np.ones(2), 3.0)),
    ],
)
def test_matching_values_pass(actual, expected):
    assert_close(actual, expected)


def test_none_asks_about_a_missing_return():
    message = failure_message(None, np.ones(3), name="out")

    assert message == "out: your function returned None: did you forget `return`?"


def test_tuple_elements_are_named_and_each_failure_is_reported():
    expected = (np.ones(2), np.zeros((2, 2)), np.full(3, 2.0))
    actual = (np.full(2, 5.0), np.zeros((2, 2)), None)

    message = failure_message(actual, expected, name="grads")

    assert "grads[0] does not match" in message
    assert "grads[1]" not in message
    assert "grads[2]: your function returned None" in message


@pytest.mark.parametrize(
    ("actual", "found"),
    [((np.ones(2),), "a tuple of 1 items"), (np.ones(2), "a single ndarray"), (None, "None")],
)
def test_tuple_of_the_wrong_length_or_kind(actual, found):
    message = failure_message(actual, (np.ones(2), np.ones(2)))

    assert "expected a tuple of 2 items" in message or "returned None" in message
    assert found in message


def test_a_tuple_where_one_array_was_expected_mentions_returning_several_values():
    message = failure_message((np.ones((2, 3)), {"cache": None}), np.ones((2, 3)))

    assert "expected a single array of shape (2, 3), got a tuple of 2 items" in message
    assert "(out, cache)" in message


@pytest.mark.parametrize(
    ("actual_shape", "expected_shape", "hint"),
    [
        ((3, 2), (2, 3), "transpose"),
        ((4,), (4, 1), "keepdims=True"),
        ((1, 1), (), "keepdims=True"),
        ((6,), (2, 3), "arranged differently"),
        ((2, 3), (), "sum or average"),
        ((), (5,), "axis=..."),
    ],
)
def test_shape_mismatch_names_both_shapes_and_hints(actual_shape, expected_shape, hint):
    message = failure_message(np.ones(actual_shape), np.ones(expected_shape), name="dx")

    assert message.startswith(f"dx has shape {actual_shape}, but shape {expected_shape} was")
    assert hint in message


def test_shape_mismatch_without_a_known_cause_has_no_hint():
    message = failure_message(np.ones((2, 4)), np.ones((2, 3)))

    assert "(2, 4)" in message and "(2, 3)" in message and "hint" not in message


def test_integer_result_where_float_was_expected():
    message = failure_message(np.array([1, 2]), np.array([1.0, 2.0]))

    assert "dtype int64" in message and "float64" in message


def test_non_numeric_result():
    message = failure_message(np.array(["a", "b"]), np.ones(2))

    assert "expected numbers" in message and "<U1" in message


def test_nan_is_reported_with_its_first_index():
    actual = np.array([[1.0, 2.0], [np.nan, np.inf]])

    message = failure_message(actual, np.ones((2, 2)))

    assert "2 nan or inf value(s)" in message
    assert "index (1, 0): got nan, expected 1.0" in message
    assert "numerically stable" in message


def test_value_mismatch_reports_errors_and_the_worst_entry():
    expected = np.arange(6, dtype=np.float64).reshape(2, 3)
    actual = expected.copy()
    actual[0, 1] += 1e-3
    actual[1, 2] += 0.5

    message = failure_message(actual, expected, name="out")

    assert message.startswith("out does not match the expected value: 2 of 6 entries differ")
    assert "max abs error: 0.5," in message
    assert f"max relative error: {rel_error(actual, expected):.3g}" in message
    assert "worst at index (1, 2): got 5.5, expected 5" in message
    assert "hint" not in message


def test_worst_entry_is_relative_to_its_tolerance():
    # 1e-3 off on a value of 1e-2 is worse than 1e-2 off on a value of 1e4.
    message = failure_message(np.array([1e4 + 1e-2, 1.1e-2]), np.array([1e4, 1e-2]), rtol=1e-7)

    assert "worst at index (1,)" in message


def test_scalar_mismatch_has_no_index():
    message = failure_message(2.0, 1.0, name="loss")

    assert "loss does not match" in message and "worst: got 2, expected 1" in message


@pytest.mark.parametrize(("factor", "shown"), [(-1.0, "-1 times"), (4.0, "4 times")])
def test_constant_factor_is_pointed_out(factor, shown):
    expected = np.array([[1.0, -2.0], [0.0, 3.0]])

    message = failure_message(factor * expected, expected)

    assert shown in message and "dividing by N" in message


def test_float32_result_gets_a_precision_hint():
    expected = np.array([1 / 3, 2 / 3])

    message = failure_message(expected.astype(np.float32), expected, rtol=1e-9)

    assert "dtype float32" in message and "float64" in message


def test_rel_error_and_check_gradients_are_re_exported():
    assert rel_error is i2dl.gradcheck.rel_error
    assert check_gradients is i2dl.gradcheck.check_gradients
