"""Hidden tests against a real sandboxed kernel: what crosses, what comes back, what stops."""

from __future__ import annotations

import tempfile
import time

import pytest
from jupyter_client.blocking import BlockingKernelClient

from grader.kernels import Kernel, KernelPool, KernelSettings
from grader.notebook_checks import DelegationError
from grader.remote import (
    Channel,
    ProtocolError,
    RemoteDied,
    RemoteError,
    RemoteOutOfMemory,
    RemoteTimeout,
    run_hidden,
)
from grader.sandbox import Limits

pytestmark = pytest.mark.grader

SETTINGS = KernelSettings(
    "python3", Limits(memory_bytes=1536 * 1024**2), ("--HistoryManager.hist_file=:memory:",)
)

STUDENT = '''
import numpy as np
calls = []

def double(x):
    return 2 * x

def scale_in_place(x, factor):
    x *= factor
    return None

def forward(x):
    return x * 3, {"x": x, "note": "kept"}

def backward(dout, cache):
    return dout * 3 + 0 * cache["x"]

def estimate(f, x):
    return np.array([f(x + 1e-3) - f(x - 1e-3)]) / 2e-3

def overflow(x):
    return np.exp(x)

def picky(x):
    if np.ndim(x) != 2:
        raise ValueError("x must be 2-d")
    return x.sum()

class Model:
    def __init__(self):
        self.training = True
    def eval(self):
        self.training = False
    def __call__(self, x):
        return x + (0 if self.training else 100)

def batches(n):
    for start in range(0, n, 2):
        yield np.arange(start, min(start + 2, n))

model = Model()
CONFIG = {"lr": 0.1, "sizes": (3, 4)}

from i2dl.layers import relu_forward
def my_relu(x):
    return relu_forward(x)[0]

def hog():
    return bytearray(4 * 1024**3)

def spin():
    while True:
        pass

def die():
    import os
    os._exit(7)
'''


class Student:
    """A sandboxed kernel with the student code above, and a channel to it."""

    def __init__(self, code: str = STUDENT) -> None:
        self.kernel = Kernel(SETTINGS)
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.kernel.km.get_connection_info(session=False))
        self.client.start_channels(hb=False)  # the kernel may boot slower than the 1 s heartbeat
        self.client.wait_for_ready(timeout=60)
        reply = self.client.execute_interactive(code, timeout=60, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        self.channel = Channel(
            self.kernel.rpc, self.kernel.inbox, self.kernel.outbox, self.kernel.alive
        )

    def hidden(self, code: str, seconds: float = 30):
        return run_hidden(code, self.channel, time.monotonic() + seconds)

    def kernel_value(self, expression: str) -> str:
        """repr of an expression evaluated in the kernel, outside of any hidden test."""
        reply = self.client.execute_interactive(
            "", user_expressions={"v": expression}, timeout=30, output_hook=lambda m: None
        )
        return reply["content"]["user_expressions"]["v"]["data"]["text/plain"]

    def close(self) -> None:
        self.channel.close()
        self.client.stop_channels()
        self.kernel.discard()


@pytest.fixture(scope="module")
def student():
    s = Student()
    yield s
    s.close()


def test_a_passing_region_passes_and_its_prints_are_kept(student):
    error, printed = student.hidden(
        "_x = np.arange(3.0)\n"
        "assert np.array_equal(double(_x), 2 * _x)\n"
        "assert double(2) == 4 and type(double(2)) is int\n"
        "print('checked', CONFIG['sizes'])\n"
    )
    assert error is None
    assert printed == "checked (3, 4)\n"


def test_a_failing_assert_is_the_verdict(student):
    error, _ = student.hidden("assert double(np.ones(2))[0] == 3, 'double is wrong'")
    assert isinstance(error, AssertionError) and str(error) == "double is wrong"


def test_in_place_changes_reach_the_callers_array(student):
    error, _ = student.hidden(
        "_x = np.ones(3)\n"
        "scale_in_place(_x, 5.0)\n"
        "assert np.array_equal(_x, [5.0, 5.0, 5.0]), _x\n"
    )
    assert error is None


def test_caches_stay_in_the_kernel_and_come_back(student):
    error, _ = student.hidden(
        "from grader.notebook_checks import call_own\n"
        "_x = np.arange(4.0)\n"
        "_out, _cache = call_own(forward, _x)\n"
        "assert type(_cache).__name__ == 'dict' and _cache['note'] == 'kept'\n"
        "assert _cache['x'] is _x  # the array the student kept is the caller's array\n"
        "assert np.array_equal(call_own(backward, np.ones(4), _cache), np.full(4, 3.0))\n"
    )
    assert error is None


def test_functions_of_the_hidden_test_are_called_back(student):
    error, _ = student.hidden(
        "_calls = [0]\n"
        "def _f(_v):\n"
        "    _calls[0] += 1\n"
        "    return float(np.sum(_v ** 2))\n"
        "_g = estimate(_f, np.array([3.0]))\n"
        "assert _calls[0] == 2 and abs(_g[0] - 6.0) < 1e-6, (_calls, _g)\n"
    )
    assert error is None


def test_objects_are_proxies_with_methods_and_iteration(student):
    error, _ = student.hidden(
        "assert model(np.zeros(1))[0] == 0\n"
        "assert hasattr(model, 'eval') and not hasattr(model, 'nope')\n"
        "model.eval()\n"
        "assert model(np.zeros(1))[0] == 100\n"
        "_parts = [list(_b) for _b in batches(5)]\n"
        "assert _parts == [[0, 1], [2, 3], [4]], _parts\n"
        "assert double.__name__ == 'double'\n"
    )
    assert error is None


def test_errstate_of_the_hidden_test_applies_inside_the_call(student):
    error, _ = student.hidden(
        "with np.errstate(over='raise'):\n"
        "    overflow(np.array([1000.0]))\n"
    )
    assert isinstance(error, FloatingPointError)


def test_builtin_exceptions_of_the_student_keep_their_type(student):
    error, _ = student.hidden(
        "try:\n"
        "    picky(np.ones(3))\n"
        "except ValueError as _e:\n"
        "    assert 'must be 2-d' in str(_e)\n"
        "else:\n"
        "    raise AssertionError('no ValueError')\n"
    )
    assert error is None


def test_delegation_is_reported_as_such(student):
    error, _ = student.hidden(
        "from grader.notebook_checks import call_own\ncall_own(my_relu, np.ones(2))"
    )
    assert isinstance(error, DelegationError) and "i2dl.layers" in str(error)
    error, _ = student.hidden(
        "from grader.notebook_checks import call_own\ncall_own(relu_forward, 1)"
    )
    assert isinstance(error, DelegationError) and "not from your notebook" in str(error)


def test_a_missing_name_is_a_name_error(student):
    error, _ = student.hidden("undefined_function(1)")
    assert isinstance(error, NameError)


def test_objects_of_other_kinds_cannot_be_passed(student):
    error, _ = student.hidden("double(object())")
    assert error is not None and "only arrays, numbers" in str(error)


def test_an_answer_that_is_a_link_is_refused(student):
    # The kernel answers with a symbolic link to a file of the grader's machine.
    client = student.client
    patch = (
        "import os, grader.kernel_side as _ks\n"
        "_real_write = _ks._write\n"
        "_ks._write = lambda folder, name, data: os.symlink('/etc/passwd', "
        "os.path.join(folder, name))\n"
    )
    assert client.execute_interactive(patch, timeout=30)["content"]["status"] == "ok"
    try:
        error, _ = student.hidden("double(1)")
    finally:
        client.execute_interactive("_ks._write = _real_write", timeout=30)
    assert isinstance(error, ProtocolError) and "cannot be opened" in str(error)


def test_a_kernel_that_runs_out_of_memory_stops_grading(student):
    with pytest.raises(RemoteOutOfMemory):
        student.hidden("hog()")


FLOOD = (
    "import threading, grader.kernel_side as _ks\n"
    "def wrong(x):\n"
    "    return x\n"
    "_sock = _ks._DOORBELL.sock\n"
    "def _flood():\n"
    "    for i in range(1, 3000):\n"
    "        _sock.sendall(b'D %d\\nC 99\\nR 1\\n' % i + b'x' * 5000 + b'\\nD\\n')\n"
    "threading.Thread(target=_flood, daemon=True).start()\n"
)


def test_lines_forged_on_the_grader_socket_change_no_verdict_and_stall_nothing():
    # The student's code writes false "answered" lines, callback requests and junk onto the
    # socket the grader rings; verdicts come from the answers' contents only.
    other = Student(STUDENT + FLOOD)
    try:
        start = time.monotonic()
        error, _ = other.hidden("assert wrong(3) == 6, 'wrong(3) should be 6'", seconds=20)
        assert error is not None
        assert isinstance(error, (AssertionError, ProtocolError)), error
        other.hidden("double(3)", seconds=20)  # the next call is answered or fails, never hangs
        assert time.monotonic() - start < 20
    finally:
        other.close()


def test_a_kernel_that_closes_the_grader_socket_fails_the_call_not_the_grader():
    other = Student(STUDENT + "import grader.kernel_side as _ks\n_ks._DOORBELL.sock.close()\n")
    try:
        error, _ = other.hidden("double(1)", seconds=10)
        assert isinstance(error, ProtocolError) and "closed its connection" in str(error)
    finally:
        other.close()


@pytest.mark.parametrize(("code", "stop"), [("spin()", RemoteTimeout), ("die()", RemoteDied)])
def test_a_kernel_that_hangs_or_dies_stops_grading(code, stop):
    other = Student()
    try:
        with pytest.raises(stop):
            other.hidden(code, seconds=3)
    finally:
        other.close()


def test_remote_errors_name_the_students_exception(student):
    student.client.execute_interactive(
        "class Odd(Exception):\n    pass\ndef odd():\n    raise Odd('strange')\n", timeout=30
    )
    error, _ = student.hidden("odd()")
    assert isinstance(error, RemoteError) and str(error) == "Odd: strange"


def test_the_pool_keeps_one_spare_and_replaces_dead_or_different_ones():
    pool = KernelPool()
    try:
        first = pool.take(SETTINGS)
        spare = pool.spare
        assert spare is not None and spare is not first and spare.uid != first.uid
        first.discard()
        assert pool.take(SETTINGS) is spare  # the spare is handed out next
        spare.discard()
        pool.spare.km.provisioner.process.kill()
        pool.spare.km.provisioner.process.wait()
        replacement = pool.take(SETTINGS)
        assert replacement.alive()  # a dead spare is not handed out
        replacement.discard()
        other = KernelSettings("python3", Limits(memory_bytes=2 * 1024**3))
        different = pool.take(other)
        assert different.settings == other
        different.discard()
        pool.want_spare = False  # the last notebook: no kernel boots for a next one
        last = pool.take(other)
        assert pool.spare is None and last.alive()
        last.discard()
    finally:
        pool.close()
    assert pool.spare is None


def test_a_long_temporary_folder_still_gives_usable_socket_paths(tmp_path, monkeypatch):
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 4)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    kernel = Kernel(SETTINGS)
    try:
        assert len(str(kernel.runtime / "kernel-1")) < 100
        client = BlockingKernelClient()
        client.load_connection_info(kernel.km.get_connection_info(session=False))
        client.start_channels(hb=False)  # the kernel may boot slower than the 1 s heartbeat
        client.wait_for_ready(timeout=60)
        client.stop_channels()
    finally:
        kernel.discard()


# --- PyTorch: tensors cross as data, modules stay in the kernel --------------------------------

TORCH_STUDENT = '''
import torch
from torch import nn

class TinyNet(nn.Module):
    """Scores = 5 * the first three features: its predictions are the argmax of those."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        with torch.no_grad():
            self.fc.weight.copy_(5 * torch.eye(3, 4))
            self.fc.bias.zero_()
    def forward(self, x):
        return self.fc(x)

class Modest(TinyNet):
    """Claims to have no parameters at all."""
    def parameters(self, recurse=True):
        return iter([])

net = TinyNet()
modest = Modest()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5)), batch_size=2
)

class Sneaky(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.__eq__:
            return torch.ones((), dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs)
    def __eq__(self, other):
        return True

def sneaky_scores(x):
    return torch.zeros(len(x), 3).as_subclass(Sneaky)

def describe_tensor(t):
    return type(t).__name__, str(t.dtype), tuple(t.shape), t.requires_grad

def add_one_(t):
    t.add_(1)

def same(t):
    return t

def with_grad():
    w = torch.ones(3, requires_grad=True)
    return w * 2, nn.Parameter(torch.full((2,), 3.0))

def on_meta():
    return torch.ones(2, device="meta")

def sparse():
    return torch.ones(2).to_sparse()

def torch_hog(x):
    return torch.empty(2**33, dtype=torch.uint8)

def my_softplus(x):
    return torch.log1p(torch.exp(x))
'''


@pytest.fixture(scope="module")
def torch_student():
    s = Student(TORCH_STUDENT)
    yield s
    s.close()


def test_tensors_cross_both_ways_with_dtype_shape_and_type(torch_student):
    error, printed = torch_student.hidden(
        "import torch\n"
        "_values = [torch.rand(2, 3), torch.rand(4, dtype=torch.float64), torch.arange(6),\n"
        "           torch.tensor([True, False]), torch.zeros(()), torch.ones(2, 0, 3),\n"
        "           torch.arange(12.0).reshape(3, 4).T,\n"
        "           torch.full((2,), 1.5, dtype=torch.bfloat16)]\n"
        "for _t in _values:\n"
        "    _kind = describe_tensor(_t)\n"
        "    assert _kind == ('Tensor', str(_t.dtype), tuple(_t.shape), False), _kind\n"
        "    _back = same(_t)\n"
        "    assert _back is _t  # the same tensor object comes back\n"
        "_copy = [same(_t.clone()) for _t in _values]\n"
        "for _t, _c in zip(_values, _copy):\n"
        "    assert type(_c) is torch.Tensor and _c.dtype == _t.dtype and torch.equal(_c, _t)\n"
        "print('ok')\n"
    )
    assert error is None, error
    assert printed == "ok\n"


def test_in_place_changes_of_tensors_travel_back(torch_student):
    error, _ = torch_student.hidden(
        "import torch\n"
        "_x = torch.zeros(3)\n"
        "add_one_(_x)\n"
        "assert torch.equal(_x, torch.ones(3)), _x\n"
    )
    assert error is None, error


def test_gradients_and_subclasses_stay_behind(torch_student):
    error, _ = torch_student.hidden(
        "import torch\n"
        "_w, _p = with_grad()\n"
        "assert type(_w) is torch.Tensor and not _w.requires_grad and _w.grad_fn is None\n"
        "assert type(_p) is torch.Tensor and not _p.requires_grad\n"
        "assert torch.equal(_w, torch.full((3,), 2.0)) and torch.equal(_p, torch.full((2,), 3.0))\n"
        "_s = sneaky_scores(torch.zeros(4, 4))\n"
        "assert type(_s) is torch.Tensor\n"
        "assert not torch.equal(_s, torch.ones(4, 3)) and not bool((_s == 1).all())\n"
    )
    assert error is None, error


def test_tensors_without_plain_data_are_refused_with_a_message(torch_student):
    error, _ = torch_student.hidden("on_meta()")
    assert isinstance(error, RemoteError) and "meta device has no data" in str(error)
    error, _ = torch_student.hidden("sparse()")
    assert isinstance(error, RemoteError) and ".to_dense()" in str(error)


def test_a_model_predicts_hidden_inputs_and_the_grader_scores_them(torch_student):
    # The labels stay here: the kernel sees inputs only, the accuracy is computed here.
    error, printed = torch_student.hidden(
        "import torch\n"
        "from grader.notebook_checks import expect_tensor\n"
        "_rng = np.random.default_rng()\n"
        "_X = _rng.standard_normal((50, 4)).astype(np.float32)\n"
        "_y = _X[:, :3].argmax(axis=1)\n"
        "net.eval()\n"
        "_scores = expect_tensor(net(torch.as_tensor(_X)), 'net(X)', shape=(50, 3), "
        "kind='floating')\n"
        "_accuracy = float((_scores.argmax(dim=1).numpy() == _y).mean())\n"
        "_mse = float(((_scores - 5 * torch.as_tensor(_X[:, :3])) ** 2).mean())\n"
        "assert _accuracy == 1.0 and _mse < 1e-10, (_accuracy, _mse)\n"
        "assert not net.training\n"
        "print('accuracy', _accuracy)\n"
    )
    assert error is None, error
    assert printed == "accuracy 1.0\n"
    assert torch_student.kernel_value("'_y' in globals() or '_X' in globals()") == "False"


def test_parameters_are_counted_from_the_state_dict(torch_student):
    error, printed = torch_student.hidden(
        "import torch\n"
        "from grader.notebook_checks import state_dict_size\n"
        "_state = modest.state_dict()\n"
        "assert type(_state) is dict and sorted(_state) == ['fc.bias', 'fc.weight']\n"
        "assert all(type(_v) is torch.Tensor for _v in _state.values())\n"
        "print(state_dict_size(_state), sum(1 for _ in modest.parameters()))\n"
    )
    assert error is None, error
    assert printed == "15 0\n"  # 3 x 4 weights + 3 biases, although parameters() says none


def test_optimisers_loaders_and_modules_stay_in_the_kernel_as_proxies(torch_student):
    error, _ = torch_student.hidden(
        "import torch\n"
        "assert not isinstance(net, torch.nn.Module) and not isinstance(optimizer, dict)\n"
        "assert optimizer.param_groups[0]['lr'] == 0.1\n"
        "assert len(loader) == 3\n"
        "_batches = list(loader)\n"
        "assert [tuple(_xb.shape) for _xb, _ in _batches] == [(2, 2), (2, 2), (1, 2)]\n"
        "assert torch.equal(torch.cat([_yb for _, _yb in _batches]), torch.arange(5))\n"
        "assert net.fc.weight.shape == (3, 4) and type(net.fc.weight) is torch.Tensor\n"
        "assert net.eval() is net  # Module.eval returns the module itself: the same proxy\n"
    )
    assert error is None, error


def test_wrong_results_fail_with_a_clear_message(torch_student):
    for code, message in [
        ("expect_tensor(net(torch.zeros(5, 4)), 'net(X)', shape=(5, 10))",
         "net(X) has shape (5, 3), expected (5, 10)"),
        ("expect_tensor(net(torch.zeros(5, 4)).long(), 'net(X)', kind='floating')",
         "net(X) is a int64 tensor, expected a floating-point tensor"),
        ("expect_tensor(net, 'net')", "net should be a torch.Tensor, got a TinyNet object"),
        ("from grader.notebook_checks import state_dict_size\nstate_dict_size(net.fc)",
         "model.state_dict() should be a dict of tensors, got a Linear object"),
    ]:
        error, _ = torch_student.hidden(
            "import torch\nfrom grader.notebook_checks import expect_tensor\n" + code
        )
        assert isinstance(error, AssertionError) and str(error) == message, (code, error)


def test_torch_is_blocked_unless_the_exercise_allows_it(torch_student):
    error, _ = torch_student.hidden(
        "import torch\n"
        "from grader.notebook_checks import call_own, own\n"
        "_x = torch.linspace(-3, 3, 7)\n"
        "_y = own(my_softplus, allow=('torch',))(_x)\n"
        "assert torch.allclose(_y, torch.nn.functional.softplus(_x))\n"
        "call_own(my_softplus, _x)\n"
    )
    assert isinstance(error, DelegationError) and "torch" in str(error)


def test_an_allocation_torch_refuses_is_out_of_memory(torch_student):
    with pytest.raises(RemoteOutOfMemory):
        torch_student.hidden("import torch\ntorch_hog(torch.zeros(1))")


def test_numpy_kernels_never_load_torch(student):
    error, _ = student.hidden("double(np.ones(2))")
    assert error is None
    assert student.kernel_value("'torch' in __import__('sys').modules") == "False"
    error, _ = student.hidden("import torch\ndouble(torch.ones(2))")
    assert isinstance(error, RemoteError)
    assert "a torch tensor arrived, but this notebook has not imported torch" in str(error)
    assert student.kernel_value("'torch' in __import__('sys').modules") == "False"


def test_the_grader_imports_torch_only_when_a_tensor_arrives():
    script = (
        "import sys\n"
        "import grader.autograde, grader.cli, grader.execute, grader.remote, grader.wire\n"
        "import grader.kernel_side, grader.notebook_checks\n"
        "import numpy as np\n"
        "from grader import wire\n"
        "table = wire.ArrayTable('h', import_torch=True)\n"
        "encoder = wire.Encoder(table, lambda v: {'r': 1})\n"
        "data = wire.pack({'v': encoder.encode([np.ones(2), 1.5, {'a': (1, 'x')}])},"
        " encoder.finish())\n"
        "meta, arrays = wire.unpack(data)\n"
        "wire.Decoder(wire.ArrayTable('k'), arrays, lambda n: None).decode(meta['v'])\n"
        "print('torch' in sys.modules)\n"
        "tensor = {'v': {'a': 'k1', 'ro': False, 'torch': 'float32'}}\n"
        "decoded = wire.Decoder(table, {'k1': np.ones(2, np.float32)}, None).decode(tensor['v'])\n"
        "print('torch' in sys.modules, type(decoded).__name__)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "Tensor"]


def test_grading_kernels_start_without_the_debugger_and_can_still_import_debugpy(student):
    # grader.kernel_launch keeps debugpy out of ipykernel's start-up only
    debugger = "__import__('ipykernel.debugger', fromlist=['_'])._is_debugpy_available"
    assert student.kernel_value(debugger) == "False"
    assert student.kernel_value("__import__('debugpy').__name__") == "'debugpy'"
    assert student.kernel_value("__import__('sys').argv[0].endswith('kernel_launch.py')") == "True"
    # and show errors in the Plain layout (a third of the default's CPU per failing cell)
    assert student.kernel_value("get_ipython().InteractiveTB.mode") == "'Plain'"
