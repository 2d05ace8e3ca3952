"""ex01_linear_regression: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex01


def test_partial_submissions_earn_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, "ex01_linear_regression", "ex01_linear_regression",
        {
            "gradients": ["add_bias_column", "predict", "mse", "mse_gradient",
                          "polynomial_features"],
            "closed_form": ["add_bias_column", "predict", "mse", "fit_closed_form",
                            "polynomial_features", "select_degree"],
        },
    )
    # add_bias_column (5) + predict (10) + mse (10) + mse_gradient (15) + polynomial_features
    # (10); both gradient-descent tests need gradient_descent, select_degree needs the fit
    assert scores["gradients"] == 50
    # add_bias_column (5) + predict (10) + mse (10) + fit_closed_form (15) +
    # polynomial_features (10) + select_degree (10); no gradient, so no gradient descent
    assert scores["closed_form"] == 60
