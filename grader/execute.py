"""Executing a submission: sandboxed kernel, time budgets, and failures that keep earned credit.

``SandboxedExecute`` replaces nbgrader's ``Execute`` step of autograding. It runs the notebook's
cells one by one in a kernel started inside :mod:`grader.sandbox`, with a per-cell time limit and
a per-notebook budget. When the kernel dies, runs out of memory or exceeds a limit, execution
stops there: the cells already run keep their outputs (and so their credit), every later test
cell gets an error output naming the reason (so it scores zero), and the notebook's outcome
(``ok``, ``timeout``, ``memory``, ``crashed``) is recorded for the grade table.

A test cell runs in two parts: its visible code in the kernel, as the student saw it, and its
hidden regions in this (trusted) process through :func:`grader.remote.run_hidden`, which calls
into the kernel only for the student's own functions and objects. The hidden source never
reaches the kernel, and the verdict is decided here; a failed hidden test adds an error output
to the cell, which is what scores it zero.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from queue import Empty

from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_hook
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

from grader.data_masks import masks_for, source_notebook
from grader.grading_skips import SKIP_NOTE, cells_to_skip, skips_for
from grader.hidden import has_hidden_tests, split_regions
from grader.integrity import is_test_cell
from grader.kernel_side import is_memory_error
from grader.kernels import POOL, KernelSettings
from grader.remote import Channel, RemoteDied, RemoteOutOfMemory, RemoteTimeout, run_hidden
from grader.sandbox import Limits
from grader.zygote import MATPLOTLIB, ZygoteError, exercise_preload
from i2dl.budgets import CELL_SECONDS, NOTEBOOK_SECONDS

# Outcomes of the notebooks executed in this process: (student, exercise, notebook) -> outcome.
OUTCOMES: dict[tuple[str, str, str], dict[str, str]] = {}


def _hidden_failure(error: BaseException) -> NotebookNode:
    """The error output of a failed hidden test: its type and message, never its source."""
    name = type(error).__name__
    message = str(error)[:2000]
    return NotebookNode(
        output_type="error", ename=name, evalue=message, traceback=[f"{name}: {message}"]
    )


def _stop_output(reason: str) -> NotebookNode:
    return NotebookNode(
        output_type="error",
        ename="GradingStopped",
        evalue=reason,
        traceback=[f"GradingStopped: {reason}"],
    )


def _merged_streams(outputs: list) -> list:
    """Outputs with each run of stdout (or stderr) messages joined into one.

    The kernel may cut one ``print`` into several messages, depending on timing: joined, the same
    work gives the same graded notebook wherever it runs. (nbclient's own ``coalesce_streams``
    also interprets carriage returns with a regular expression that takes quadratic time on one
    long printed line: a student's print must not stall the grader.)
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = previous.get("text", "") + output.get("text", "")
        else:
            merged.append(output)
    return merged


class SandboxedExecute(Execute):
    """nbgrader's Execute, run in a sandbox with budgets and typed failures."""

    # No execution timestamps in graded notebooks: grading the same work gives the same file,
    # wherever and whenever it runs.
    record_timing = Bool(False).tag(config=True)
    notebook_timeout = Float(
        float(NOTEBOOK_SECONDS), help="Seconds the whole notebook may run"
    ).tag(config=True)
    memory_bytes = Integer(Limits.memory_bytes, help="Address-space limit of the kernel").tag(
        config=True
    )
    processes = Integer(Limits.processes, help="Processes and threads of the kernel").tag(
        config=True
    )
    file_bytes = Integer(Limits.file_bytes, help="Largest file the kernel may write").tag(
        config=True
    )
    open_files = Integer(Limits.open_files, help="Files the kernel may hold open").tag(config=True)
    scratch_bytes = Integer(
        Limits.scratch_bytes, help="Size of the kernel's working folder and of its /tmp"
    ).tag(config=True)

    def create_kernel_manager(self):
        # A kernel started while the previous notebook ran (see grader.kernels).
        kernel_name = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name")
        limits = Limits(
            memory_bytes=self.memory_bytes,
            cpu_seconds=int(self.notebook_timeout) + 30,
            processes=self.processes,
            file_bytes=self.file_bytes,
            open_files=self.open_files,
            scratch_bytes=self.scratch_bytes,
        )
        arguments = (*self.extra_arguments, f"--HistoryManager.hist_file={self.ipython_hist_file}")
        # Data files the exercise's source notebook asks to mask (held-out labels).
        masks = masks_for(self.config, self.resources)
        preload = exercise_preload(source_notebook(self.config, self.resources))
        settings = KernelSettings(kernel_name or "python3", limits, arguments, masks, preload)
        self._kernel = POOL.take(settings)
        self._channel = None
        self.km = self._kernel.km
        return self.km

    async def async_start_new_kernel_client(self):
        """Connect to the (usually already running) kernel and wait until it answers.

        nbclient's version waits up to 0.2 s for a first IOPub message after each kernel_info
        reply, and a subscription made a moment earlier usually misses that message. Here the
        kernel is asked again at growing intervals until an IOPub message arrives.
        """
        if self._kernel.forked and self._reads_own_matplotlibrc():
            self._kernel = POOL.replace_forked(self._kernel, None)
            self.km = self._kernel.km
        try:
            self._kernel.confirm_started(self.startup_timeout)
        except ZygoteError as exc:
            # A grader fault, never the student's: grade with a kernel started the plain way.
            self.log.warning("%s; starting kernels the plain way from now on", exc)
            self._kernel = POOL.replace_forked(self._kernel, str(exc))
            self.km = self._kernel.km
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        deadline = time.monotonic() + self.startup_timeout
        wait = 0.01
        while True:
            self.kc.kernel_info()
            try:
                await ensure_async(self.kc.iopub_channel.get_msg(timeout=wait))
                break
            except Empty:
                pass
            if not self._kernel.alive():
                raise DeadKernelError("the kernel died while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kernel did not start in {self.startup_timeout} s")
            wait = min(2 * wait, 0.5)
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _reads_own_matplotlibrc(self) -> bool:
        """Whether the kernel must start the plain way to read the hand-in's own matplotlibrc.

        matplotlib reads a ``matplotlibrc`` in the working folder when it is imported. A kernel
        forked from a zygote that preloaded matplotlib has imported it already, before the files
        handed in were copied next to the notebook (:mod:`grader.zygote`).
        """
        if not set(self._kernel.settings.preload) & set(MATPLOTLIB):
            return False
        return os.path.lexists(self._handed_in_folder() / "matplotlibrc")

    def _handed_in_folder(self) -> Path:
        """The folder of the notebook handed in (its other files are copied in with it)."""
        return Path(self.resources.get("metadata", {}).get("path") or os.getcwd())

    def _cleanup_kernel(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        self._kernel.discard()

    def _copy_in_files(self) -> None:
        """Files handed in next to the notebook, copied into the kernel's working folder."""
        files = self._kernel.stage_files(self._handed_in_folder())
        if files:
            reply = run_sync(self.kc.execute_interactive)(
                self._kernel.copy_in_code(files), silent=True, store_history=False, timeout=60
            )
            if reply["content"]["status"] != "ok":
                raise DeadKernelError("the files handed in could not be copied into the sandbox")

    def _hidden_channel(self) -> Channel:
        if self._channel is None:
            kernel = self._kernel
            self._channel = Channel(kernel.rpc, kernel.inbox, kernel.outbox, kernel.alive)
        return self._channel

    def _drain_iopub(self) -> None:
        """Drop the kernel's status messages about hidden-test calls from nbclient's queue."""
        get = run_sync(self.kc.iopub_channel.get_msg)
        while True:
            try:
                get(timeout=0)
            except Empty:
                return

    def _run_test_cell(self, cell, index: int, deadline: float) -> None:
        """Visible code in the kernel, hidden regions here; outputs of both go to the cell."""
        source = cell.source
        outputs: list = []
        try:
            for hidden, code in split_regions(source):
                self.timeout = max(1, int(deadline - time.monotonic()))
                if not hidden:
                    cell.source = code
                    cell.outputs = []
                    try:
                        self.execute_cell(cell, index, store_history=True)
                    finally:
                        outputs += cell.outputs
                    if any(o.get("output_type") == "error" for o in cell.outputs):
                        return  # a visible check failed: the rest of the cell does not run
                    continue
                try:
                    error, printed = run_hidden(code, self._hidden_channel(), deadline)
                finally:
                    self._drain_iopub()
                if printed:
                    outputs.append(NotebookNode(output_type="stream", name="stdout", text=printed))
                if error is not None:
                    outputs.append(_hidden_failure(error))
                    return
        finally:
            cell.source = source
            cell.outputs = outputs

    def _kernel_exit_reason(self) -> tuple[str, str]:
        """Classify a dead kernel by how its process ended."""
        code = None
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None:
            code = process.poll()
        # Killed by a signal: Popen reports -signal; bubblewrap, in between, exits 128 + signal.
        sig = -code if code is not None and code < 0 else None
        if code is not None and code > 128:
            sig = code - 128
        if sig in set(signal.Signals):
            if sig == signal.SIGXCPU:
                return "timeout", "the kernel used up its CPU time"
            if sig == signal.SIGKILL:
                return "memory", "the kernel was killed (out of memory)"
            return "crashed", f"the kernel died from signal {signal.Signals(sig).name}"
        return "crashed", f"the kernel died (exit code {code})"

    def _out_of_memory(self) -> dict[str, str]:
        limit = f"{self.memory_bytes / 2**30:.3g} GiB"
        return {"status": "memory", "reason": f"out of memory (limit {limit})"}

    def _run_cells(self, cell_timeout: int) -> tuple[dict[str, str], int | None]:
        """Run the code cells in order; return the outcome and where execution stopped."""
        start = time.monotonic()
        # Illustrations the exercise's source notebook marks skip_when_grading (see
        # grader.grading_skips): they keep one note instead of running.
        skipped = cells_to_skip(self.nb.cells, skips_for(self.config, self.resources))
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if index in skipped:
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIP_NOTE)]
                continue
            left = self.notebook_timeout - (time.monotonic() - start)
            if left <= 0:
                reason = f"the notebook used up its {self.notebook_timeout:g} s"
                return {"status": "timeout", "reason": reason}, index
            budget = max(1, int(min(cell_timeout, left)))
            self.timeout = budget
            try:
                if is_test_cell(cell) and has_hidden_tests(cell.source):
                    self._run_test_cell(cell, index, time.monotonic() + budget)
                else:
                    self.execute_cell(cell, index, store_history=True)
            except (CellTimeoutError, RemoteTimeout):
                outcome = {"status": "timeout", "reason": f"a cell ran longer than {budget} s"}
            except (DeadKernelError, RemoteDied):
                status, reason = self._kernel_exit_reason()
                outcome = {"status": status, "reason": reason}
            except RemoteOutOfMemory:
                outcome = self._out_of_memory()
            else:
                if not any(is_memory_error(str(o.get("ename")), str(o.get("evalue")))
                           for o in cell.outputs if o.get("output_type") == "error"):
                    continue
                return self._out_of_memory(), index + 1
            cell.outputs.append(_stop_output(outcome["reason"]))
            return outcome, index + 1
        return {"status": "ok", "reason": ""}, None

    def preprocess(self, nb, resources=None, km=None):
        # Settings the loop relies on: a timed-out cell raises, and a stopped kernel is killed.
        self.shutdown_kernel = "immediate"
        self.interrupt_on_timeout = False
        self.error_on_timeout = {}
        ids = (resources or {}).get("nbgrader", {})
        key = (ids.get("student", "?"), ids.get("assignment", "?"), ids.get("notebook", "?"))
        cell_timeout = self.timeout or CELL_SECONDS
        try:
            # What ExecutePreprocessor.preprocess does, with an interruptible cell loop.
            NotebookClient.__init__(self, nb, km)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            with self.setup_kernel():
                self.wait_for_reply(self.kc.kernel_info())
                self._copy_in_files()
                outcome, stopped_at = self._run_cells(cell_timeout)
        except DeadKernelError:
            status, reason = self._kernel_exit_reason()
            outcome, stopped_at = {"status": status, "reason": f"{reason} while starting"}, 0
        finally:
            self.timeout = cell_timeout
            if getattr(self, "_channel", None) is not None:
                self._channel.close()
                self._channel = None
            if getattr(self, "_kernel", None) is not None:
                self._kernel.discard()
        for cell in self.nb.cells:
            if cell.cell_type == "code":
                cell.outputs = _merged_streams(cell.outputs)
        if stopped_at is not None:
            for cell in self.nb.cells[stopped_at:]:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                    cell.outputs = [_stop_output(f"not run: {outcome['reason']}")]
        OUTCOMES[key] = outcome
        return self.nb, self.resources
