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

    def __init__(self) -> None:
        self.kernel = Kernel(SETTINGS)
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.kernel.km.get_connection_info(session=False))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        reply = self.client.execute_interactive(STUDENT, timeout=60, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        info = self.kernel.km.get_connection_info(session=False)
        self.channel = Channel(info, self.kernel.inbox, self.kernel.outbox, self.kernel.alive)

    def hidden(self, code: str, seconds: float = 30):
        return run_hidden(code, self.channel, time.monotonic() + seconds)

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
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.stop_channels()
    finally:
        kernel.discard()
