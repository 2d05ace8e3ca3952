"""ex03_layers: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex03


def test_half_done_submission_earns_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, "ex03_layers", "ex03_layers",
        {"half": ["affine_forward", "affine_backward", "relu", "sigmoid"]},
    )
    # affine forward/backward (25) + relu (10) + sigmoid (10) + the no-mutation check needs
    # every function, the batch-shape check only the affine layer (10)
    assert scores["half"] == 55
