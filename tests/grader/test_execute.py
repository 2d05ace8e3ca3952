"""How a dead kernel is classified (no kernel needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grader.execute import SandboxedExecute

pytestmark = pytest.mark.grader


@pytest.mark.parametrize(("code", "status", "words"), [
    (-9, "memory", "killed"),
    (137, "memory", "killed"),  # bubblewrap reports a signal as 128 + signal
    (128 + 24, "timeout", "CPU time"),
    (-11, "crashed", "SIGSEGV"),
    (3, "crashed", "exit code 3"),
    (None, "crashed", "exit code None"),
])
def test_dead_kernel_is_classified_by_how_it_ended(code, status, words):
    executor = SandboxedExecute()
    process = SimpleNamespace(poll=lambda: code)
    executor.km = SimpleNamespace(provisioner=SimpleNamespace(process=process))
    got_status, reason = executor._kernel_exit_reason()
    assert got_status == status
    assert words in reason


def test_a_failed_torch_allocation_counts_as_out_of_memory():
    # PyTorch's CPU allocator raises a plain RuntimeError; a visible cell that hits it (and a
    # hidden-test call) must get the status `memory`, like numpy's MemoryError.
    import torch

    from grader.kernel_side import is_memory_error

    with pytest.raises(RuntimeError) as caught:
        torch.empty(2**44, dtype=torch.uint8)  # 16 TiB: refused at once, nothing is touched
    assert is_memory_error(type(caught.value).__name__, str(caught.value))
    assert is_memory_error("MemoryError", "")
    assert not is_memory_error("RuntimeError", "mat1 and mat2 shapes cannot be multiplied")
