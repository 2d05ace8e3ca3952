"""ex02_backprop_by_hand: partial work earns partial credit."""

import pytest

from tests.exercises.conftest import grade_versions

pytestmark = pytest.mark.ex02


def test_partial_submissions_earn_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, "ex02_backprop_by_hand", "ex02_backprop_by_hand",
        {
            "graphs_and_checks": [
                "add_mul_forward", "add_mul_backward", "sigmoid_neuron_forward",
                "sigmoid_neuron_backward", "numerical_gradient", "rel_error",
            ],
            "network_only": ["two_layer_forward", "two_layer_backward"],
        },
    )
    # add_mul (5 + 10), sigmoid neuron (5 + 10), numerical_gradient values and bookkeeping
    # (10 + 5), rel_error (5); numerical_gradient_array and the network are missing
    assert scores["graphs_and_checks"] == 50
    # the network's forward (10) and backward (20); its numerical check also needs
    # numerical_gradient
    assert scores["network_only"] == 30
