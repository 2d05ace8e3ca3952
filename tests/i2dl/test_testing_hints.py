"""i2dl.testing: the hints that name a likely mistake, and the pass line of a test cell."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl import testing
from i2dl.testing import assert_close, describe_test_cell, pass_line

pytestmark = pytest.mark.gradcheck


def failure_message(actual, expected, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        assert_close(actual, expected, **kwargs)
    return str(failure.value)


def hints(message: str) -> list[str]:
    return [line.strip()[len("hint: "):] for line in message.splitlines()
            if line.strip().startswith("hint: ")]


GENERIC = ("look for a flipped sign or a missing or extra factor (such as dividing by N for a "
           "mean)")


def softmax(scores: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- values of the right shape -------------------------------------------------------------------


def test_transposed_square_result():
    expected = np.arange(1.0, 10.0).reshape(3, 3)

    message = failure_message(expected.T, expected, name="dw")

    assert hints(message) == [
        "your result is the transpose of the expected one: check .T and the order of the factors "
        "in a matrix product (or of the axes in a transpose)"
    ]


def test_swapped_axes_of_a_3d_result():
    expected = np.arange(1.0, 9.0).reshape(2, 2, 2)

    message = failure_message(np.transpose(expected, (1, 0, 2)), expected)

    assert hints(message) == [
        "your result is np.transpose(.., (1, 0, 2)) of the expected one: check .T and the order "
        "of the factors in a matrix product (or of the axes in a transpose)"
    ]


def test_sum_instead_of_mean_names_the_batch_axis():
    expected = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [3.0, 1.0, 0.5], [-2.0, 0.5, 1.0]])

    message = failure_message(4 * expected, expected, name="dscores")

    assert hints(message) == [
        f"your result is 4 times the expected one everywhere: {GENERIC}; 4 is the length of axis "
        "0 of the result: did you sum where a mean was expected (a missing division by N)?"
    ]


def test_an_extra_division_names_the_axis():
    expected = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

    message = failure_message(expected / 3, expected)

    assert hints(message) == [
        f"your result is 0.333333 times the expected one everywhere: {GENERIC}; 0.333333 = 1/3; "
        "3 is the length of axis 1 of the result: did you divide by N where no mean was "
        "expected, or divide twice?"
    ]


def test_a_whole_factor_that_is_no_axis_length():
    expected = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

    message = failure_message(5 * expected, expected)

    assert hints(message) == [
        f"your result is 5 times the expected one everywhere: {GENERIC}; 5 is a whole number: did "
        "you sum where a mean was expected (a missing division by N)?"
    ]


def test_a_flipped_sign_says_so():
    expected = np.array([0.5, -1.0, 2.0])

    message = failure_message(-expected, expected, name="dx")

    assert hints(message) == [
        f"your result is -1 times the expected one everywhere: {GENERIC}; here the sign is "
        "flipped (e.g. y - y_hat for y_hat - y, or + for -)"
    ]


def test_a_scalar_loss_summed_instead_of_averaged():
    message = failure_message(8.0, 2.0, name="loss")

    assert hints(message) == [
        f"your result is 4 times the expected one everywhere: {GENERIC}; 4 is a whole number: did "
        "you sum where a mean was expected (a missing division by N)?"
    ]


@pytest.mark.parametrize(("actual", "expected"), [(2.5, 1.0), (0.7, 0.3), (1.0, 0.0)])
def test_a_scalar_off_by_an_ordinary_factor_gets_no_hint(actual, expected):
    assert hints(failure_message(actual, expected)) == []


def test_a_softmax_over_the_wrong_axis():
    scores = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.5]])

    message = failure_message(softmax(scores, axis=0), softmax(scores, axis=1), name="probs")

    assert hints(message) == [
        "your result sums to 1 along axis 0, the expected one along axis 1: check the axis= "
        "(and keepdims=True) of the sum in your normalisation, e.g. a softmax over the classes"
    ]


def test_an_unrelated_mismatch_gets_no_hint():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((3, 3))

    assert hints(failure_message(expected + rng.standard_normal((3, 3)), expected)) == []


def test_the_first_failing_element_of_a_tuple_gets_its_hint():
    expected = (np.ones((2, 2)), np.array([[1.0, 2.0], [3.0, 4.0]]))
    actual = (np.ones((2, 2)), expected[1].T)

    message = failure_message(actual, expected, name="grads")

    assert message.startswith("grads[1] does not match the expected value")
    assert hints(message) == [
        "your result is the transpose of the expected one: check .T and the order of the factors "
        "in a matrix product (or of the axes in a transpose)"
    ]


# --- wrong shapes --------------------------------------------------------------------------------


def test_an_extra_batch_axis():
    message = failure_message(np.ones((5, 3)), np.ones(3), name="db")

    assert message.startswith("db has shape (5, 3), but shape (3,) was expected")
    assert hints(message) == [
        "your result has an extra axis 0 of length 5: did you forget to sum or average over it "
        "(axis=0), e.g. over the batch?"
    ]


def test_a_missing_axis():
    message = failure_message(np.ones(3), np.ones((3, 5)))

    assert hints(message) == [
        "your result lacks axis 1 (of length 5) of the expected shape: did you reduce over axis=1 "
        "(sum, mean, max) where no reduction was expected, or reduce over the wrong axis?"
    ]


def test_right_values_in_the_wrong_shape():
    expected = np.arange(6.0).reshape(2, 3)

    message = failure_message(expected.reshape(3, 2), expected)

    assert hints(message) == [
        "the shape is the transpose of the expected one: check .T and the order of a product",
        "your values are right and in the right order: only the shape differs (the result should "
        "be reshaped to (2, 3))",
    ]


def test_right_values_with_the_axes_in_another_order():
    expected = np.arange(24.0).reshape(2, 3, 4)

    message = failure_message(np.transpose(expected, (2, 0, 1)), expected)

    assert hints(message) == [
        "the number of entries is right but they are arranged differently: check reshape calls; "
        "a gradient must have the shape of the input it belongs to",
        "np.transpose(your result, (1, 2, 0)) is the expected array: the values are right but the "
        "axes are in another order (reshape keeps the order of the entries; transpose reorders "
        "axes)",
    ]


# --- the pass line of a test cell ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('"""affine_forward: values and shape (10 points)"""\nout = 1',
         "PASSED (visible checks) affine_forward: values and shape (10 points)"),
        ("\n  '''receptive_field (1 point)'''  \nassert True",
         "PASSED (visible checks) receptive_field (1 point)"),
        ('"""half marks (2.5 points)"""\n\nx = 1\n',
         "PASSED (visible checks) half marks (2.5 points)"),
    ],
)
def test_pass_line_of_a_test_cell(source, line):
    assert pass_line(source) == line


@pytest.mark.parametrize(
    "source",
    [
        '"""only a docstring (5 points)"""',
        '"""a docstring and a comment (5 points)"""\n# nothing to check',
        '"""no points given"""\nx = 1',
        '"""a docstring\nover two lines (5 points)"""\nx = 1',
        'x = 1\n"""not first (5 points)"""',
        '"""mismatched quotes (5 points)\'\'\'\nx = 1',
        "",
    ],
)
def test_no_pass_line_for_other_cells(source):
    assert describe_test_cell(source) is None and pass_line(source) is None


class _Info:
    def __init__(self, raw_cell, silent=False):
        self.raw_cell, self.silent = raw_cell, silent


class _Result:
    def __init__(self, raw_cell, success=True, silent=False):
        self.info, self.success = _Info(raw_cell, silent), success


def test_the_hook_prints_only_after_a_successful_visible_test_cell(capsys):
    source = '"""relu (10 points)"""\nassert_close(1, 1)'

    testing._announce_pass(_Result(source))
    testing._announce_pass(_Result(source, success=False))
    testing._announce_pass(_Result(source, silent=True))
    testing._announce_pass(_Result("x = 1"))

    assert capsys.readouterr().out == "PASSED (visible checks) relu (10 points)\n"


@pytest.mark.parametrize("result", [None, object(), _Result(None), _Result(b'"""x (1 point)"""')])
def test_the_hook_never_raises(result, capsys):
    testing._announce_pass(result)

    assert capsys.readouterr().out == ""
