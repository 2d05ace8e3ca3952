"""call_own / own: graded functions must be the student's own (in-process, no kernel)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import i2dl.layers
import i2dl.testing
from grader.notebook_checks import DelegationError, call_own, own

pytestmark = pytest.mark.grader


def notebook_function(source: str, name: str):
    """Define ``name`` as a notebook would: in a namespace whose __name__ is __main__."""
    namespace = {"__name__": "__main__", "np": np}
    exec(source, namespace)
    return namespace[name]


def test_own_code_runs_and_returns_its_result():
    relu = notebook_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu")
    assert np.array_equal(call_own(relu, np.array([-1.0, 2.0])), [0.0, 2.0])


@pytest.mark.parametrize("body", [
    "from i2dl.layers import relu_forward\n    return relu_forward(x)[0]",
    "import i2dl.layers\n    return i2dl.layers.relu_forward(x)[0]",
    "import torch\n    return torch.relu(torch.tensor(x)).numpy()",
    "import torch.nn.functional as F\n    return F.relu(x)",
    "from i2dl.optim import SGD\n    return SGD(lr=1.0)",
])
def test_delegation_inside_the_function_fails(body):
    relu = notebook_function(f"def relu(x):\n    {body}\n", "relu")
    with pytest.raises(DelegationError, match="relu uses"):
        call_own(relu, np.array([-1.0, 2.0]))


def test_reference_imported_at_top_level_fails():
    relu = notebook_function(
        "from i2dl.layers import relu_forward as ref\n"
        "def relu(x):\n    return ref(x)[0]\n", "relu")
    with pytest.raises(DelegationError, match="i2dl.layers"):
        call_own(relu, np.array([1.0]))


def test_a_reference_function_itself_is_not_own_work():
    with pytest.raises(DelegationError, match="not from your notebook"):
        call_own(i2dl.layers.relu_forward, np.array([1.0]))


def test_everything_is_restored_afterwards():
    relu = notebook_function("import torch\ndef relu(x):\n    return torch.relu(x)\n", "relu")
    torch_module = sys.modules["torch"]
    finders = list(sys.meta_path)
    with pytest.raises(DelegationError):
        call_own(relu, np.array([1.0]))
    assert i2dl.layers.relu_forward(np.array([1.0]))[0][0] == 1.0
    assert sys.modules.get("torch") is torch_module
    assert relu.__globals__["torch"] is torch_module
    assert sys.meta_path == finders


def test_forbid_blocks_extra_modules_including_re_exports():
    rel = notebook_function(
        "import i2dl.testing\ndef rel(a, b):\n    return i2dl.testing.rel_error(a, b)\n", "rel")
    assert call_own(rel, np.ones(2), np.ones(2)) == 0.0  # gradcheck is allowed by default
    with pytest.raises(DelegationError, match="i2dl.testing.rel_error"):
        own(rel, forbid=("i2dl.gradcheck",))(np.ones(2), np.ones(2))
    assert i2dl.testing.rel_error(np.ones(2), np.ones(2)) == 0.0


def test_allow_lets_an_exercise_build_on_earlier_layers():
    two = notebook_function(
        "from i2dl.layers import relu_forward\n"
        "def two(x):\n    return relu_forward(x)[0] * 2\n", "two")
    assert np.array_equal(own(two, allow=("i2dl.layers",))(np.array([-1.0, 1.0])), [0.0, 2.0])
