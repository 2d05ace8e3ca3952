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
