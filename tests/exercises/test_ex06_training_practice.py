"""ex06_training_practice: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex06

EXERCISE = "ex06_training_practice"


def test_partial_submissions_earn_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, EXERCISE, EXERCISE,
        {
            "blocks": ["xavier_init", "he_init", "split_indices", "iterate_minibatches",
                       "should_stop"],
            "trainer": ["he_init", "iterate_minibatches", "should_stop", "lr_schedules",
                        "train_model", "overfit_config", "best_config"],
        },
    )
    # Five building blocks of 10 points each; nothing that needs the training loop.
    assert scores["blocks"] == 50
    # The blocks the training loop uses (he 10, mini-batches 10, early stopping 10, schedules 5)
    # plus the two training goals (overfit 10, final accuracy 15); xavier, split, log-uniform
    # sampling and the initial-loss check are missing.
    assert scores["trainer"] == 60
