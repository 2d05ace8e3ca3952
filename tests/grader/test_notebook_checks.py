"""call_own / own: graded functions must be the student's own (in-process, no kernel)."""

from __future__ import annotations

import builtins
import sys
import time

import numpy as np
import pytest

import i2dl.layers
import i2dl.nn.init
import i2dl.optim
import i2dl.testing
from grader import kernel_side, notebook_checks, remote
from grader.notebook_checks import DelegationError, call_own, own
from i2dl import ownership

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


# forbid_direct: the initialisers and the learning-rate schedules are forbidden in the
# student's code only; the rest of i2dl.nn and i2dl.optim stays allowed (ex06's train_model).
NN_AND_OPTIM = ("i2dl.layers", "i2dl.losses", "i2dl.nn", "i2dl.optim")
DIRECT = {"i2dl.nn.init": "use your own he_init",
          "i2dl.optim.LRScheduler": "set optimizer.lr with your own step_decay"}
INIT_ADVICE = "which this test does not allow in your own code: use your own he_init"
LR_ADVICE = ("which this test does not allow in your own code: "
             "set optimizer.lr with your own step_decay")


def train_with(source: str):
    return notebook_function(source, "train")


@pytest.mark.parametrize(("source", "used", "advice"), [
    # names bound in the notebook's namespace
    ("from i2dl.nn.init import kaiming_normal\n"
     "def train():\n    return kaiming_normal((3, 2))\n",
     "i2dl.nn.init.kaiming_normal", INIT_ADVICE),
    ("from i2dl.nn import init\ndef train():\n    return init.xavier_normal((3, 2))\n",
     "i2dl.nn.init.xavier_normal", INIT_ADVICE),
    ("from i2dl.optim import Adam, StepLR\n"
     "def train():\n    return StepLR(Adam(lr=1.0), step_size=2)\n",
     "i2dl.optim.StepLR", LR_ADVICE),
    # a class of the notebook's that inherits a forbidden one
    ("from i2dl.optim import StepLR\nclass Slow(StepLR):\n    pass\n"
     "def train():\n    return Slow(i2dl.optim.Adam(lr=1.0), step_size=2)\n",
     "__main__.Slow", LR_ADVICE),
    # attribute chains from modules bound there
    ("import i2dl\ndef train():\n    return i2dl.nn.init.he_normal((3, 2))\n",
     "i2dl.nn.init.he_normal", INIT_ADVICE),
    ("import i2dl.optim as optim\n"
     "def train():\n    return optim.ExponentialLR(optim.Adam(lr=1.0), gamma=0.5)\n",
     "i2dl.optim.ExponentialLR", LR_ADVICE),
    # imports made during the call
    ("def train():\n    from i2dl.nn.init import kaiming_uniform\n"
     "    return kaiming_uniform((3, 2))\n",
     "i2dl.nn.init.kaiming_uniform", INIT_ADVICE),
    ("def train():\n    import i2dl.nn.init as init\n    return init.kaiming_normal((3, 2))\n",
     "i2dl.nn.init", INIT_ADVICE),
    ("def train():\n    import i2dl.optim\n"
     "    return i2dl.optim.StepLR(i2dl.optim.SGD(lr=1.0), step_size=2)\n",
     "i2dl.optim.StepLR", LR_ADVICE),
    ("def train():\n    from i2dl.optim import InverseTimeLR, SGD\n"
     "    return InverseTimeLR(SGD(lr=1.0), decay=0.1)\n",
     "i2dl.optim.InverseTimeLR", LR_ADVICE),
    ("def train():\n    return __import__('i2dl.nn.init').nn.init.kaiming_normal((3, 2))\n",
     "i2dl.nn.init", INIT_ADVICE),
])
def test_forbid_direct_blocks_every_way_from_the_notebook(source, used, advice):
    train = train_with("import i2dl.optim\n" + source)
    with pytest.raises(DelegationError) as caught:
        own(train, allow=NN_AND_OPTIM, forbid_direct=DIRECT)()
    assert str(caught.value) == f"train uses {used}, {advice}"


def test_forbid_direct_leaves_the_library_and_allowed_names_working():
    train = train_with(
        "import i2dl\nimport i2dl.optim as optim\nfrom i2dl.nn import Linear\n"
        "def train():\n"
        "    from i2dl.optim import Adam\n"
        "    layer = Linear(3, 2, seed=0)\n"  # its constructor calls i2dl.nn.init
        "    model = i2dl.nn.Sequential(layer, i2dl.nn.ReLU())\n"
        "    initial = layer.params['weight'].copy()\n"
        "    params = {'w': np.ones(2)}\n"
        "    Adam(lr=0.1).step(params, {'w': np.array([1.0, -1.0])})\n"
        "    optim.SGD(lr=0.5).step(params, {'w': np.array([1.0, 1.0])})\n"
        "    return initial, params['w'], model(np.ones((1, 3))).shape\n")
    initial, weights, shape = own(train, allow=NN_AND_OPTIM, forbid_direct=DIRECT)()
    assert np.array_equal(initial, i2dl.nn.Linear(3, 2, seed=0).params["weight"])
    # Adam's first step moves each weight by lr against the gradient's sign, then SGD by 0.5.
    assert np.allclose(weights, [1.0 - 0.1 - 0.5, 1.0 + 0.1 - 0.5], rtol=0, atol=1e-8)
    assert shape == (1, 2)


def test_forbid_direct_restores_everything_after_an_exception():
    train = train_with(
        "import i2dl\nfrom i2dl.optim import StepLR\n"
        "def train():\n"
        "    global leaked\n"
        "    leaked = i2dl\n"
        "    raise ValueError('broken loop')\n")
    namespace = train.__globals__
    before = dict(namespace)
    real_import = builtins.__import__
    finders = list(sys.meta_path)
    with pytest.raises(ValueError, match="broken loop"):
        own(train, allow=NN_AND_OPTIM, forbid_direct=DIRECT)()
    assert builtins.__import__ is real_import
    assert sys.meta_path == finders
    assert namespace["i2dl"] is sys.modules["i2dl"]
    assert namespace["StepLR"] is i2dl.optim.StepLR
    assert {k: v for k, v in namespace.items() if k != "leaked"} == before
    # A module view that escaped the call stops guarding once the call is over.
    escaped = namespace["leaked"]
    assert escaped is not sys.modules["i2dl"]
    assert escaped.nn.init.kaiming_normal is i2dl.nn.init.kaiming_normal
    assert i2dl.nn.init.kaiming_normal((2, 2), seed=0).shape == (2, 2)


def test_forbid_direct_as_a_tuple_uses_a_general_advice():
    train = train_with("from i2dl.optim import SGD, StepLR\n"
                       "def train():\n    return StepLR(SGD(lr=1.0), step_size=1)\n")
    with pytest.raises(DelegationError) as caught:
        own(train, allow=NN_AND_OPTIM, forbid_direct=("i2dl.optim.StepLR",))()
    assert str(caught.value) == (
        "train uses i2dl.optim.StepLR, which this test does not allow in your own code: "
        f"{notebook_checks.DEFAULT_ADVICE}")


@pytest.mark.parametrize(("forbid_direct", "error", "message"), [
    ("i2dl.nn.init", TypeError, r"got the string 'i2dl.nn.init'; write \('i2dl.nn.init',\)"),
    (("i2dl..init",), ValueError, r"by its dotted path, e.g. 'i2dl.nn.init'.*got 'i2dl..init'"),
    ({"i2dl.nn.init": " "}, ValueError, r"advice for 'i2dl.nn.init'.*should say what to use"),
])
def test_forbid_direct_refuses_unusable_rules(forbid_direct, error, message):
    train = train_with("def train():\n    return 1\n")
    with pytest.raises(error, match=message):
        own(train, forbid_direct=forbid_direct)


class InProcessChannel:
    """The grader's request path without a kernel: kernel_side.serve answers in this process."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.seq = 0

    def request(self, data: bytes, deadline: float, serve_callback) -> bytes:
        self.seq += 1
        (self.folder / f"req-{self.seq}.npz").write_bytes(data)
        kernel_side.serve(str(self.folder), str(self.folder), self.seq)
        return (self.folder / f"rep-{self.seq}.npz").read_bytes()


@pytest.fixture
def remote_train(tmp_path, monkeypatch):
    """Proxies, as the trusted grader holds them, for notebook functions kept 'in the kernel'."""
    session = remote.RemoteSession(InProcessChannel(tmp_path), time.monotonic() + 60)
    kept = kernel_side._Session(session.ident, str(tmp_path), str(tmp_path))
    monkeypatch.setattr(kernel_side, "_CURRENT", kept)

    def proxy(source: str):
        node = kept.keep(train_with(source))
        return remote.RemoteRef(session, node["r"], node)

    return proxy


STEP_LR_LOOP = ("import i2dl.optim as optim\n"
                "def train():\n"
                "    optimizer = optim.Adam(lr=1.0)\n"
                "    return optim.StepLR(optimizer, step_size=2, gamma=0.5).lr_at(4)\n")


def test_forbid_direct_crosses_the_grader_request_path(remote_train):
    train = remote_train(STEP_LR_LOOP)
    with pytest.raises(DelegationError) as caught:
        own(train, allow=NN_AND_OPTIM, forbid_direct=DIRECT)()
    assert str(caught.value) == f"train uses i2dl.optim.StepLR, {LR_ADVICE}"
    assert own(train, allow=NN_AND_OPTIM)() == 0.25  # the same call without the rule
    fine = remote_train("import i2dl.optim\n"
                        "def train():\n    return i2dl.optim.Adam(lr=0.5).lr\n")
    assert own(fine, allow=NN_AND_OPTIM, forbid_direct=DIRECT)() == 0.5


def test_forbid_direct_applies_to_calls_from_a_hidden_tests_own_function(remote_train):
    train = remote_train(STEP_LR_LOOP)

    def hidden_check():
        return train()

    token = notebook_checks.enter_hidden_mode()
    try:
        with pytest.raises(DelegationError, match="train uses i2dl.optim.StepLR"):
            own(hidden_check, allow=NN_AND_OPTIM, forbid_direct=DIRECT)()
        assert own(hidden_check, allow=NN_AND_OPTIM)() == 0.25
    finally:
        notebook_checks.leave_hidden_mode(token)


def test_one_delegation_error_whichever_module_it_is_imported_from(remote_train):
    assert notebook_checks.DelegationError is ownership.DelegationError
    assert notebook_checks.FORBIDDEN_PREFIXES is ownership.FORBIDDEN_PREFIXES
    relu = notebook_function("import torch\ndef relu(x):\n    return torch.relu(x)\n", "relu")
    # Outside the grader, grader's own() is i2dl.ownership's: the student's visible checks and
    # an instructor's run of the hidden tests raise the same error.
    with pytest.raises(notebook_checks.DelegationError, match="relu uses torch.relu"):
        ownership.call_own(relu, np.array([1.0]))
    with pytest.raises(ownership.DelegationError, match="relu uses torch.relu"):
        call_own(relu, np.array([1.0]))
    # Raised in the kernel, re-raised by the grader's proxy.
    with pytest.raises(ownership.DelegationError, match="train uses i2dl.optim.StepLR"):
        own(remote_train(STEP_LR_LOOP), allow=NN_AND_OPTIM, forbid_direct=DIRECT)()


def test_malformed_rules_fail_on_the_trusted_side_before_any_call(remote_train):
    train = remote_train(STEP_LR_LOOP)
    with pytest.raises(TypeError, match=r"forbid should be a tuple .* write \('i2dl.optim',\)"):
        own(train, forbid="i2dl.optim")
    with pytest.raises(ValueError, match="allow names modules by their dotted names"):
        own(lambda: None, allow=("torch.",))
