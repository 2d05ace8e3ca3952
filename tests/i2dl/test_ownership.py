"""i2dl.ownership: the student-side own()/call_own, usable where the grader is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import i2dl.layers
import i2dl.ownership
from i2dl.ownership import FORBIDDEN_PREFIXES, DelegationError, call_own, own

pytestmark = pytest.mark.gradcheck

REPO = Path(__file__).resolve().parents[2]
OWN_WORK = ("this exercise grades your own implementation, so write it with numpy instead of "
            "calling the course's reference or PyTorch")

# Runs as a student's Jupyter kernel would, with no grader package anywhere: a finder at the front
# of sys.meta_path refuses every import of `grader`. Functions defined here live in __main__, as
# a notebook's do.
WITHOUT_GRADER = r'''
import json
import sys


class NoGrader:
    def find_spec(self, name, path=None, target=None):
        if name == "grader" or name.startswith("grader."):
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)")
        return None


sys.meta_path.insert(0, NoGrader())
report = {}
try:
    import grader  # noqa: F401
    report["grader_importable"] = True
except ModuleNotFoundError:
    report["grader_importable"] = False

from i2dl.ownership import DelegationError, own

report["loaded_after_import"] = sorted(
    name for name in sys.modules if name.partition(".")[0] in ("grader", "torch", "numpy"))


def init_by_import(n_in, n_out):
    from i2dl.nn.init import kaiming_normal
    return kaiming_normal((n_in, n_out), seed=0)


def init_by_library(n_in, n_out):
    import i2dl.nn
    layer = i2dl.nn.Linear(n_in, n_out, seed=0)  # the library may use i2dl.nn.init itself
    return i2dl.nn.init.kaiming_normal((n_in, n_out), seed=0)


def outcome(call):
    try:
        return ["returned", list(call().shape)]
    except DelegationError as error:
        return ["DelegationError", str(error)]


# i2dl.nn is not loaded yet: the import itself is refused.
report["not_loaded"] = outcome(lambda: own(init_by_import)(3, 2))
import i2dl.nn.init
# Loaded now: the import works, the function it names is a blocked stand-in.
report["loaded"] = outcome(lambda: own(init_by_import)(3, 2))
report["direct"] = outcome(lambda: own(
    init_by_library, allow=("i2dl.nn",),
    forbid_direct={"i2dl.nn.init": "use your own he_init"})(3, 2))
report["allowed"] = outcome(lambda: own(init_by_import, allow=("i2dl.nn",))(3, 2))
report["loaded_at_end"] = sorted(
    name for name in sys.modules if name.partition(".")[0] in ("grader", "torch"))
print(json.dumps(report))
'''


def test_own_works_without_the_grader_and_without_importing_torch():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_GRADER], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {
        "grader_importable": False,
        "loaded_after_import": [],
        "not_loaded": ["DelegationError", f"init_by_import uses i2dl.nn; {OWN_WORK}"],
        "loaded": ["DelegationError",
                   f"init_by_import uses i2dl.nn.init.kaiming_normal; {OWN_WORK}"],
        "direct": ["DelegationError",
                   "init_by_library uses i2dl.nn.init.kaiming_normal, which this test does not "
                   "allow in your own code: use your own he_init"],
        "allowed": ["returned", [3, 2]],
        "loaded_at_end": [],
    }


def notebook_function(source: str, name: str):
    """Define ``name`` as a notebook would: in a namespace whose __name__ is __main__."""
    namespace = {"__name__": "__main__", "np": np}
    exec(source, namespace)
    return namespace[name]


def test_own_code_runs_and_the_reference_does_not():
    relu = notebook_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu")
    assert np.array_equal(call_own(relu, np.array([-1.0, 2.0])), [0.0, 2.0])
    with pytest.raises(DelegationError) as caught:
        call_own(i2dl.layers.relu_forward, np.array([1.0]))
    assert str(caught.value) == (
        "relu_forward comes from i2dl.layers.dense, not from your notebook: define it yourself")
    with pytest.raises(DelegationError, match="^max should be a function you define"):
        call_own(max, [1, 2])


@pytest.mark.parametrize("binding", ["import i2dl.layers as layers", "from i2dl import layers"])
def test_a_blocked_module_bound_under_another_name_is_named_once(binding):
    relu = notebook_function(f"{binding}\ndef relu(x):\n    return layers.relu_forward(x)[0]\n",
                             "relu")
    with pytest.raises(DelegationError) as caught:
        call_own(relu, np.array([1.0]))
    assert str(caught.value) == f"relu uses i2dl.layers.relu_forward; {OWN_WORK}"


# Code of the graded function that reaches for i2dl.ownership itself to get at the reference.
ESCAPES = {
    "nested own allowing everything": (
        "import i2dl.ownership\n"
        "def helper(x):\n    return i2dl.layers.relu_forward(x)[0]\n"
        "def relu(x):\n"
        "    return i2dl.ownership.own(helper, allow=i2dl.ownership.FORBIDDEN_PREFIXES)(x)\n"),
    "references_blocked with no prefixes": (
        "import i2dl.ownership\n"
        "def relu(x):\n"
        "    with i2dl.ownership.references_blocked('relu', globals(), ()):\n"
        "        return i2dl.layers.relu_forward(x)[0]\n"),
    "emptying FORBIDDEN_PREFIXES during the call": (
        "import i2dl.ownership\n"
        "def relu(x):\n"
        "    i2dl.ownership.FORBIDDEN_PREFIXES = ()\n"
        "    return i2dl.layers.relu_forward(x)[0]\n"),
}


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_ownership_itself_does_not_unblock_the_reference(source, monkeypatch):
    monkeypatch.setattr(i2dl.ownership, "FORBIDDEN_PREFIXES", FORBIDDEN_PREFIXES)
    relu = notebook_function("import i2dl.layers\n" + source, "relu")
    with pytest.raises(DelegationError) as caught:
        call_own(relu, np.array([-1.0, 2.0]))
    assert str(caught.value) == f"relu uses i2dl.layers.relu_forward; {OWN_WORK}"
    # Afterwards the reference is back for the library and for everyone else.
    assert np.array_equal(i2dl.layers.relu_forward(np.array([-1.0, 2.0]))[0], [0.0, 2.0])


@pytest.mark.parametrize(("rules", "error", "message"), [
    ({"forbid": "i2dl.gradcheck"}, TypeError,
     r"^forbid should be a tuple of module names, got the string 'i2dl.gradcheck'; "
     r"write \('i2dl.gradcheck',\)$"),
    ({"allow": "torch"}, TypeError, r"^allow should be a tuple .* write \('torch',\)$"),
    ({"allow": 3}, TypeError, r"^allow should be a tuple of module names such as "
                              r"\('i2dl.layers',\), got int$"),
    ({"forbid": ("i2dl..gradcheck",)}, ValueError,
     r"^forbid names modules by their dotted names, e.g. \('i2dl.gradcheck',\); "
     r"got 'i2dl..gradcheck'$"),
    ({"forbid_direct": {"i2dl.nn.init": ""}}, ValueError, r"advice for 'i2dl.nn.init'"),
])
def test_malformed_rules_fail_when_wrapping(rules, error, message):
    relu = notebook_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu")
    with pytest.raises(error, match=message):
        own(relu, **rules)


def test_blocking_rules_combines_the_defaults_with_forbid_and_allow():
    prefixes, direct = i2dl.ownership.blocking_rules(
        forbid=("i2dl.gradcheck",), allow=("torch", "i2dl.nn"),
        forbid_direct=("i2dl.optim.StepLR",))
    assert prefixes == ("i2dl.layers", "i2dl.losses", "i2dl.optim", "i2dl.gradcheck")
    assert direct == {"i2dl.optim.StepLR": i2dl.ownership.DEFAULT_ADVICE}
