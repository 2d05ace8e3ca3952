"""ex05_mlp_and_optimizers: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex05

NETWORK = ["two_layer_forward", "two_layer_loss_and_grads"]
UPDATE_RULES = ["sgd_step", "sgd_momentum_step", "nesterov_step", "rmsprop_step", "adam_step"]


def test_partial_submissions_earn_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, "ex05_mlp_and_optimizers", "ex05_mlp_and_optimizers",
        {
            "network_and_momentum": [*NETWORK, "sgd_step", "sgd_momentum_step"],
            "no_best_config": [*NETWORK, *UPDATE_RULES, "train"],
        },
    )
    # forward (10) + loss (10) + gradients (15) + SGD (5) + momentum (10); train needs every rule
    assert scores["network_and_momentum"] == 50
    # everything but the training goal, which needs BEST_CONFIG (10)
    assert scores["no_best_config"] == 90
