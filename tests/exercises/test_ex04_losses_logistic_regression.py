"""ex04_losses_logistic_regression: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex04

EXERCISE = "ex04_losses_logistic_regression"


def test_partial_submissions_earn_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, EXERCISE, EXERCISE,
        {
            "losses": ["l1_loss", "mse_loss", "bce_with_logits_loss", "cross_entropy_loss"],
            "classifier": [
                "bce_with_logits_loss", "logreg_predict", "train_logistic_regression",
                "feature_map",
            ],
        },
    )
    # L1 (10) + MSE (10) + BCE and its stability (10 + 5) + cross-entropy and its stability
    # (10 + 5); no hinge, no classifier
    assert scores["losses"] == 50
    # BCE (15) + predict (5) + training, which calls the student's BCE (15) + feature map (10)
    # + XOR accuracy (10); no regression losses, cross-entropy or hinge
    assert scores["classifier"] == 55
