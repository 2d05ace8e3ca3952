"""Shared fixtures for the browser tests: JupyterLab on loopback, driven by Debian's chromium.

The tests open course notebooks in a real JupyterLab, as a student would, and drive it with
Playwright. Nothing is downloaded: Playwright launches the system ``/usr/bin/chromium`` (override
with ``I2DL_CHROMIUM``), and the browser cannot resolve any host but ``127.0.0.1``. Every test in
this folder carries the ``browser`` marker.

Fixtures
--------
``course_copy`` (function scope)
    ``course_copy("lectures/03_neural_networks.ipynb", "solutions/ex01_linear_regression")``
    copies files or folders of the checkout (paths relative to the repository root) into a fresh
    temporary folder, keeping their relative paths, and returns that folder. Tests edit the copy,
    never the checkout.
``jupyter_server`` (session scope)
    A factory: ``jupyter_server(root_dir)`` returns a running :class:`JupyterServer` that serves
    ``root_dir`` (a copy made with ``course_copy`` or any other folder). It runs the JupyterLab of
    this virtual environment on a free port of 127.0.0.1 with a random token and its own
    temporary config, data, runtime, IPython, user-settings and workspaces folders, so nothing in
    the checkout or under ``~`` changes. A second call with the same folder returns the same
    server. Every server (and its kernels) is shut down at the end of the session. Startup waits
    until ``/api/status`` answers; a server that does not come up fails with its log.
``browser`` (session scope)
    One headless chromium for the session, with a temporary home folder.
``lab_page`` (function scope)
    A factory: ``lab_page(server)`` opens JupyterLab in a new browser context and returns a
    :class:`LabPage`; the context is closed and the server's kernels shut down after the test.
``shared_lab_page`` (function scope)
    The same, but JupyterLab is loaded once per server for the session (loading it costs a few
    CPU seconds); after each test the notebook it opened is closed unsaved and the server's
    kernels are shut down. For tests that each open one notebook and run it.
``shared_course_copy`` (session scope)
    Like ``course_copy``, but every call copies into one root for the whole session, so that the
    tests using it share one server and one loaded JupyterLab page (loading the page alone took
    about 6 s of chromium's CPU, measured). Its tests never change a copied file; they may add
    files of their own under names no other test uses.

:class:`LabPage` drives the JupyterLab front end through its application object (exposed with
``--expose-app-in-browser``): ``open_notebook(path)`` opens a notebook (path relative to the
server's root) and waits for its kernel (one notebook at a time: ``close_notebook()`` shuts
its kernel down and closes it unsaved); ``run_all()`` runs every cell and returns once all of
them have finished and the kernel is idle; ``record_kernel_messages()`` before it and
``recorded_runs()`` after it give the kernel's messages for each executed cell (what nbval would
compare); ``set_cell_source(i, text)`` and ``add_cell_tag(i, tag)`` change the open notebook
unsaved; ``error_outputs()`` lists the error outputs of the notebook (and widgets that failed to
display); ``output_text(index)`` is the text a student sees below a cell. ``cells`` and
``cell(index)`` give Playwright locators for the notebook's cells. For the lectures' interactive
figures (``i2dl.viz.InteractiveFigure``: controls above a widget image) ``figure_widgets``,
``figure_controls(i)``, ``move_control(i, j)`` (an arrow key on a slider, the next option of a
drop-down), ``figure_image(i)`` (PNG digest) and ``wait_for_new_image(i, old_src)`` drive and
observe them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_sync
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("I2DL_CHROMIUM", "/usr/bin/chromium"))
SERVER_START_TIMEOUT_S = 90.0
# Loading JupyterLab's front end on a busy 2-core machine can take tens of seconds.
LAB_LOAD_TIMEOUT_MS = 120_000
KERNEL_READY_TIMEOUT_MS = 120_000
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # Only loopback: every other host name fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# Settings every server starts with: no news or update checks (no traffic, no pop-ups), no
# autosave (the served copy stays as it was copied), every cell kept in the page (the browser
# skips drawing those out of view, but locators find their cells and outputs).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "contentVisibility"
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServerExited(RuntimeError):
    """JupyterLab stopped before it answered (e.g. another process took its port)."""


@dataclass
class JupyterServer:
    """A JupyterLab server on loopback serving ``root_dir``."""

    root_dir: Path
    port: int
    token: str
    process: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        """``base_url/path`` with the token, for the browser."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``/api/<path>`` and return the decoded JSON."""
        request = urllib.request.Request(
            f"{self.base_url}/api/{path.lstrip('/')}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def shutdown_kernels(self) -> None:
        """Shut down every kernel of this server (through its REST API)."""
        for kernel in self.api("kernels"):
            request = urllib.request.Request(
                f"{self.base_url}/api/kernels/{kernel['id']}",
                headers={"Authorization": f"token {self.token}"},
                method="DELETE",
            )
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # 404: it had already gone
                    raise

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_ready(self, timeout: float = SERVER_START_TIMEOUT_S) -> None:
        """Poll ``/api/status`` until it answers; fail with the server log otherwise."""
        deadline = time.monotonic() + timeout
        last_error = "no attempt made"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JupyterServerExited(
                    f"JupyterLab exited with code {self.process.returncode} before answering "
                    f"/api/status on {self.base_url}. Its log:\n{self.log()}"
                )
            try:
                self.api("status", timeout=5.0)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last_error = repr(exc)
            time.sleep(0.25)
        raise TimeoutError(
            f"JupyterLab did not answer {self.base_url}/api/status within {timeout:.0f} s "
            f"(last error: {last_error}). Its log:\n{self.log()}"
        )

    def leftover_kernel_pids(self) -> list[int]:
        """Ids of live processes whose command line names this server's state folder."""
        marker = str(self.state_dir).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        """Stop the server and every kernel it started (their process group)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Anything left in the server's process group goes with it.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # Kernels run in sessions of their own; the server shuts them down on SIGTERM, and any
        # that survived are found by their connection file in this server's runtime folder.
        for pid in self.leftover_kernel_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.state_dir, ignore_errors=True)


def start_jupyter_server(root_dir: Path, attempts: int = 3) -> JupyterServer:
    """Start JupyterLab from this environment on a free loopback port, serving ``root_dir``.

    A server that exits before answering is started again on another port (the free port can
    be taken by another process before JupyterLab binds it), up to ``attempts`` times.
    """
    root_dir = Path(root_dir).resolve()
    if not root_dir.is_dir():
        raise FileNotFoundError(f"jupyter_server needs an existing folder to serve, got {root_dir}")
    for attempt in range(1, attempts + 1):
        try:
            return _start_jupyter_server_once(root_dir)
        except JupyterServerExited:
            if attempt == attempts:
                raise
    raise ValueError(f"attempts must be at least 1, got {attempts}")


def _start_jupyter_server_once(root_dir: Path) -> JupyterServer:
    state_dir = Path(tempfile.mkdtemp(prefix="i2dl-lab-state-"))
    folders = {
        name: state_dir / name
        for name in ("config", "data", "runtime", "ipython", "settings", "workspaces")
    }
    for folder in folders.values():
        folder.mkdir()
    for relative, settings in USER_SETTINGS.items():
        target = folders["settings"] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings), encoding="utf-8")

    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(folders["config"]),
        JUPYTER_DATA_DIR=str(folders["data"]),
        JUPYTER_RUNTIME_DIR=str(folders["runtime"]),
        IPYTHONDIR=str(folders["ipython"]),
        # Kernels plot into widgets and PNGs, never into a window.
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    port = _free_port()
    token = secrets.token_hex(24)
    command = [
        # `python -m jupyterlab`, after importing the grader package: that skips the "iri"
        # format check nbformat's jsonschema would load (rfc3987_syntax builds its parsers at
        # import: about 0.97 s of CPU per server; no notebook or event schema has an IRI field).
        sys.executable, "-c",
        "import sys, grader; from jupyterlab.labapp import main; sys.exit(main())",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",
        f"--LabApp.user_settings_dir={folders['settings']}",
        f"--LabApp.workspaces_dir={folders['workspaces']}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # At shutdown a kernel gets 2 s to exit before it is killed.
        "--KernelManager.shutdown_wait_time=2",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = state_dir / "server.log"
    log_file = log_path.open("wb")
    try:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_file.close()
    server = JupyterServer(root_dir, port, token, process, state_dir, log_path)
    try:
        server.wait_until_ready()
    except BaseException:
        server.stop()  # no process left behind, whatever went wrong
        raise
    return server


@pytest.fixture(scope="session")
def jupyter_server() -> Iterator[Callable[[Path], JupyterServer]]:
    """Factory: ``jupyter_server(root_dir)`` -> a running :class:`JupyterServer` for that folder."""
    servers: dict[Path, JupyterServer] = {}

    def get(root_dir: Path) -> JupyterServer:
        key = Path(root_dir).resolve()
        server = servers.get(key)
        if server is None or server.process.poll() is not None:
            server = servers[key] = start_jupyter_server(key)
        return server

    yield get
    for server in servers.values():
        server.stop()


@pytest.fixture
def course_copy(tmp_path: Path) -> Callable[..., Path]:
    """Factory: copy files or folders of the checkout (repo-relative) into a temporary root."""
    root = tmp_path / "course"
    root.mkdir()

    def copy(*relative_paths: str) -> Path:
        return _copy_into(root, relative_paths)

    return copy


def _copy_into(root: Path, relative_paths: tuple[str, ...]) -> Path:
    """Copy repository-relative files or folders under ``root``, keeping their paths."""
    if not relative_paths:
        raise ValueError("course_copy needs at least one repository-relative path to copy")
    for relative in relative_paths:
        source = (REPO_ROOT / relative).resolve()
        if REPO_ROOT not in source.parents or not source.exists():
            raise FileNotFoundError(
                f"course_copy: {relative!r} is not a file or folder inside {REPO_ROOT}"
            )
        target = root / source.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
        else:
            shutil.copy2(source, target)
    return root


@pytest.fixture(scope="session")
def shared_course_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Like ``course_copy``, but all calls copy into one root for the whole session.

    Each path is copied once, by the first call that asks for it; every call returns the same
    root, so the tests that use it share one ``jupyter_server`` and one ``shared_lab_page``.
    Copied files are read-only for the tests; a test may add files of its own.
    """
    root = tmp_path_factory.mktemp("shared-course")
    copied: set[str] = set()

    def copy(*relative_paths: str) -> Path:
        missing = tuple(p for p in relative_paths if p not in copied)
        if missing:
            _copy_into(root, missing)
            copied.update(missing)
        return root

    return copy


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless chromium (the system one: Playwright downloads nothing).

    Chromium keeps crash-report settings, caches and its certificate store under the home
    folder; it gets a temporary one, so nothing under ``~`` changes.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"chromium not found at {CHROMIUM}: install Debian's chromium (`apt-get install "
            "chromium`, as .ci/run does) or point I2DL_CHROMIUM at a chromium binary"
        )
    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=env
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LabPage:
    """A JupyterLab tab in chromium, driven through ``window.jupyterapp``."""

    page: Any
    server: JupyterServer
    notebook_path: str | None = None
    console_errors: list[str] = field(default_factory=list)
    # Requests the page tried to send anywhere but this server (chromium cannot resolve other
    # hosts; a test asserts this stays empty).
    offsite_requests: list[str] = field(default_factory=list)

    def note_request(self, url: str) -> None:
        if url.split(":", 1)[0] in ("http", "https", "ws", "wss") and not url.startswith(
            (self.server.base_url, self.server.base_url.replace("http", "ws", 1))
        ):
            self.offsite_requests.append(url)

    def load(self) -> None:
        """Open JupyterLab (a fresh workspace) and wait until the application has started."""
        self.page.goto(self.server.url("lab?reset"), wait_until="domcontentloaded")
        try:
            self.page.wait_for_function(
                "() => window.jupyterapp !== undefined && window.jupyterapp.shell !== undefined",
                timeout=LAB_LOAD_TIMEOUT_MS,
            )
            self.page.evaluate("async () => { await window.jupyterapp.restored; }")
        except playwright_sync.TimeoutError as exc:
            raise TimeoutError(
                f"JupyterLab's front end did not start within {LAB_LOAD_TIMEOUT_MS / 1000:.0f} s "
                f"at {self.server.base_url}. Console errors: {self.console_errors}\n"
                f"Server log:\n{self.server.log()[-4000:]}"
            ) from exc

    def open_notebook(self, path: str) -> None:
        """Open ``path`` (relative to the server's root) and wait until its kernel is idle."""
        if not (self.server.root_dir / path).is_file():
            raise FileNotFoundError(f"{path} is not a file under {self.server.root_dir}")
        self.notebook_path = path
        self.page.evaluate(
            """async (path) => {
                const app = window.jupyterapp;
                const widget = await app.commands.execute('docmanager:open',
                    {path, factory: 'Notebook'});
                window.__i2dlNotebook = widget;
                await widget.context.ready;
                await widget.sessionContext.ready;
                app.shell.activateById(widget.id);
            }""",
            path,
        )
        self.wait_for_kernel_idle(KERNEL_READY_TIMEOUT_MS, what=f"starting the kernel of {path}")
        self.page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=LAB_LOAD_TIMEOUT_MS)

    def kernel_status(self) -> str:
        return self.page.evaluate(
            """() => {
                const kernel = window.__i2dlNotebook.sessionContext.session?.kernel;
                return kernel ? kernel.status : 'no kernel';
            }"""
        )

    def wait_for_kernel_idle(self, timeout_ms: float, what: str) -> None:
        try:
            self.page.wait_for_function(
                """() => {
                    const kernel = window.__i2dlNotebook?.sessionContext.session?.kernel;
                    return kernel !== undefined && kernel !== null && kernel.status === 'idle';
                }""",
                timeout=timeout_ms,
                polling=250,
            )
        except playwright_sync.TimeoutError as exc:
            raise TimeoutError(
                f"the kernel was not idle within {timeout_ms / 1000:.0f} s while {what} "
                f"(status: {self.kernel_status()})"
            ) from exc

    def run_all(self, timeout_s: float = 300.0) -> None:
        """Run every cell; return once all have finished and the kernel is idle again."""
        self._require_notebook()
        self.page.evaluate(
            """() => {
                window.__i2dlRunDone = null;
                window.jupyterapp.commands.execute('notebook:run-all-cells').then(
                    (ok) => { window.__i2dlRunDone = {ok}; },
                    (error) => { window.__i2dlRunDone = {error: String(error)}; });
            }"""
        )
        try:
            self.page.wait_for_function(
                "() => window.__i2dlRunDone !== null", timeout=timeout_s * 1000, polling=500
            )
        except playwright_sync.TimeoutError as exc:
            raise TimeoutError(
                f"{self.notebook_path} did not finish running all cells within {timeout_s:.0f} s "
                f"(kernel status: {self.kernel_status()})"
            ) from exc
        result = self.page.evaluate("() => window.__i2dlRunDone")
        if "error" in result:
            raise RuntimeError(f"'Run all cells' failed in JupyterLab: {result['error']}")
        self.wait_for_kernel_idle(60_000, what=f"finishing {self.notebook_path}")

    def record_kernel_messages(self) -> None:
        """Record, from now on, what the open notebook's kernel sends for each executed cell.

        Every ``execute_request`` JupyterLab sends is noted with the id of its cell, and every
        iopub message whose parent is that request is kept in order of arrival: ``msg_type``
        and, for the types nbval reads (status, stream, display_data, execute_result, error),
        ``content``. These are the messages nbval reads for a cell (``_stored_outputs``), before
        JupyterLab's output model clears, updates, merges or hands them to widgets. Read them
        with :meth:`recorded_runs`.
        """
        self._require_notebook()
        self.page.evaluate(
            """() => {
                const kernel = window.__i2dlNotebook.sessionContext.session.kernel;
                window.__i2dlRecorder?.stop();
                const byRequest = new Map();
                const requests = [];
                const kept = new Set(['status', 'stream', 'display_data', 'execute_result',
                                      'error']);
                const onMessage = (_, {msg, direction}) => {
                    if (direction === 'send') {
                        if (msg.header.msg_type === 'execute_request') {
                            const request = {cellId: msg.metadata?.cellId ?? null,
                                             code: msg.content.code, messages: []};
                            byRequest.set(msg.header.msg_id, request);
                            requests.push(request);
                        }
                        return;
                    }
                    const request = byRequest.get(msg.parent_header?.msg_id);
                    if (msg.channel !== 'iopub' || request === undefined) { return; }
                    const type = msg.header.msg_type;
                    request.messages.push({
                        msg_type: type,
                        content: kept.has(type) ? JSON.parse(JSON.stringify(msg.content)) : {},
                    });
                };
                kernel.anyMessage.connect(onMessage);
                window.__i2dlRecorder = {
                    requests,
                    stop: () => { kernel.anyMessage.disconnect(onMessage); },
                };
            }"""
        )

    def recorded_runs(self) -> dict[int, list[dict[str, Any]]]:
        """Cell index -> the kernel messages recorded for it (see :meth:`record_kernel_messages`).

        Stops the recording (a second call returns the same). Fails if a cell was executed more
        than once, or if an execution cannot be matched to a cell of the notebook.
        """
        self._require_notebook()
        requests = self.page.evaluate(
            """() => {
                const recorder = window.__i2dlRecorder;
                if (recorder === undefined) { return null; }
                recorder.stop();
                const ids = window.__i2dlNotebook.content.widgets.map((cell) => cell.model.id);
                return recorder.requests.map((request) => ({
                    index: ids.indexOf(request.cellId), code: request.code,
                    messages: request.messages,
                }));
            }"""
        )
        if requests is None:
            raise RuntimeError("start recording first: lab.record_kernel_messages()")
        runs: dict[int, list[dict[str, Any]]] = {}
        for request in requests:
            index = request["index"]
            if index < 0:
                raise RuntimeError(
                    f"{self.notebook_path}: JupyterLab executed code that is in no cell of the "
                    f"notebook: {request['code'][:200]!r}"
                )
            if index in runs:
                raise RuntimeError(f"{self.notebook_path}: cell {index} was executed twice")
            runs[index] = request["messages"]
        return runs

    def set_cell_source(self, index: int, source: str) -> None:
        """Replace the source of cell ``index`` in the open notebook (not saved)."""
        self._require_notebook()
        self.page.evaluate(
            "([i, source]) => window.__i2dlNotebook.content.widgets[i].model.sharedModel"
            ".setSource(source)",
            [index, source],
        )

    def add_cell_tag(self, index: int, tag: str) -> None:
        """Add ``tag`` to the metadata tags of cell ``index`` in the open notebook (not saved)."""
        self._require_notebook()
        self.page.evaluate(
            """([i, tag]) => {
                const model = window.__i2dlNotebook.content.widgets[i].model;
                const tags = model.getMetadata('tags') ?? [];
                if (!tags.includes(tag)) { model.setMetadata('tags', [...tags, tag]); }
            }""",
            [index, tag],
        )

    def error_outputs(self) -> list[dict[str, Any]]:
        """Every error output of the notebook, and every widget that failed to display.

        Each entry has ``cell`` (index), ``ename``, ``evalue`` and ``traceback`` (one string,
        colour codes removed).
        """
        self._require_notebook()
        errors = self.page.evaluate(
            """() => {
                const found = [];
                const cells = window.__i2dlNotebook.content.widgets;
                cells.forEach((cell, index) => {
                    if (cell.model.type !== 'code') { return; }
                    for (const output of cell.model.outputs.toJSON()) {
                        if (output.output_type === 'error') {
                            found.push({cell: index, ename: output.ename, evalue: output.evalue,
                                        traceback: (output.traceback || []).join('\\n')});
                        }
                    }
                    const text = cell.node.querySelector('.jp-OutputArea')?.innerText ?? '';
                    if (text.includes('Error displaying widget')) {
                        found.push({cell: index, ename: 'WidgetDisplayError',
                                    evalue: 'Error displaying widget', traceback: text});
                    }
                });
                return found;
            }"""
        )
        for error in errors:
            error["traceback"] = ANSI_ESCAPE.sub("", error["traceback"])
        return errors

    @property
    def cells(self) -> Any:
        """Locator of every cell of the open notebook, in order."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook > .jp-Cell")

    def cell(self, index: int) -> Any:
        return self.cells.nth(index)

    def cell_count(self) -> int:
        self._require_notebook()
        return self.page.evaluate("() => window.__i2dlNotebook.content.widgets.length")

    def cell_source(self, index: int) -> str:
        return self.page.evaluate(
            "(i) => window.__i2dlNotebook.content.widgets[i].model.sharedModel.getSource()", index
        )

    def output_text(self, index: int, timeout_ms: float = 30_000) -> str:
        """The text shown below cell ``index`` (what a student reads).

        JupyterLab draws cells lazily: a cell starts as a placeholder that gets its editor and
        outputs when the page is idle, and a cell out of view is skipped by the browser
        (``content-visibility: auto``: its ``innerText`` is empty) until it has been scrolled
        into view and the page has been drawn again. On a busy machine either can come well
        after the kernel has sent the outputs (in one CI run a PASSED line read as ''). So this
        scrolls to the cell and waits until it is drawn and, where its outputs hold text, until
        that text is shown. A cell whose text never shows fails with what its model holds.
        """
        self._require_notebook()
        shown = """(i) => {
            const cell = window.__i2dlNotebook.content.widgets[i];
            const outputs = cell.model.type === 'code' ? cell.model.outputs.toJSON() : [];
            const join = (text) => (Array.isArray(text) ? text.join('') : text ?? '').trim();
            const textual = outputs.some((o) => o.output_type === 'error'
                || join(o.text) !== '' || join(o.data?.['text/plain']) !== '');
            const text = cell.node.querySelector('.jp-OutputArea')?.innerText ?? '';
            const drawn = !cell.isPlaceholder() && (!textual || text.trim() !== '');
            return {drawn, text, outputs, placeholder: cell.isPlaceholder()};
        }"""
        self.page.evaluate(
            "(i) => window.__i2dlNotebook.content.widgets[i].node.scrollIntoView()", index
        )
        try:
            self.page.wait_for_function(
                f"(i) => ({shown})(i).drawn", arg=index, timeout=timeout_ms, polling=100
            )
        except playwright_sync.TimeoutError as exc:
            state = self.page.evaluate(shown, index)
            raise AssertionError(
                f"cell {index} of {self.notebook_path} shows {state['text']!r} after "
                f"{timeout_ms / 1000:.0f} s (placeholder: {state['placeholder']}); its model "
                f"holds the outputs {json.dumps(state['outputs'])[:2000]}"
            ) from exc
        return self.page.evaluate(shown, index)["text"]

    # Interactive figures (i2dl.viz.InteractiveFigure): a box of controls above a widget image.

    @property
    def figure_widgets(self) -> Any:
        """Locator of every displayed interactive figure (controls and an image) in the notebook."""
        return self.page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output > "
            ".widget-vbox:has(> img.widget-image)"
        )

    def figure_cell_indices(self) -> list[int]:
        """Index of the cell below which each interactive figure is shown, in order."""
        return self.page.evaluate(
            """() => {
                const found = [];
                window.__i2dlNotebook.content.widgets.forEach((cell, index) => {
                    const boxes = cell.node.querySelectorAll(
                        '.jp-OutputArea-output > .widget-vbox:has(> img.widget-image)');
                    boxes.forEach(() => found.push(index));
                });
                return found;
            }"""
        )

    def figure_controls(self, figure: int) -> Any:
        """Locator of the controls (sliders, drop-downs) of interactive figure ``figure``."""
        return self.figure_widgets.nth(figure).locator(
            ":scope > .widget-slider, :scope > .widget-dropdown"
        )

    def figure_image(self, figure: int) -> dict[str, Any]:
        """``src``, byte ``size``, ``sha256`` and displayed ``width`` of a figure's image."""
        image = self.figure_widgets.nth(figure).locator(":scope > img.widget-image")
        return image.evaluate(
            """async (img) => {
                const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
                const png = [0x89, 0x50, 0x4e, 0x47].every((b, i) => bytes[i] === b);
                return {src: img.src, size: bytes.length, png, width: img.naturalWidth,
                        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0'))
                            .join('')};
            }"""
        )

    def move_control(self, figure: int, control: int) -> str:
        """Move one control of a figure as a student would; return what was done.

        A slider's handle gets one arrow-key press (right, or left at the maximum); a drop-down
        gets its next option (the first after the last).
        """
        locator = self.figure_controls(figure).nth(control)
        locator.scroll_into_view_if_needed()
        if not self.control_enabled(figure, control):
            raise ValueError(f"control {control} of figure {figure} is disabled; it cannot move")
        label = locator.locator("label.widget-label").first.inner_text().strip()
        select = locator.locator("select")
        if select.count():
            options = select.locator("option").all_inner_texts()
            current = select.evaluate("(s) => s.selectedIndex")
            choice = (current + 1) % len(options)
            select.select_option(index=choice)
            return f"{label!r}: {options[current]!r} -> {options[choice]!r}"
        handle = locator.locator(".noUi-handle").first
        now = float(handle.get_attribute("aria-valuenow"))
        key = "ArrowLeft" if now >= float(handle.get_attribute("aria-valuemax")) else "ArrowRight"
        before = self._readout(locator)
        handle.press(key)
        return f"{label!r}: {before} -> {self._readout(locator)} ({key})"

    def control_enabled(self, figure: int, control: int) -> bool:
        """Whether a student can move the control (ipywidgets' ``disabled`` is off)."""
        return self.figure_controls(figure).nth(control).evaluate(
            """(node) => {
                const input = node.querySelector('select, .noUi-target');
                return input !== null && !input.hasAttribute('disabled') && !input.disabled;
            }"""
        )

    @staticmethod
    def _readout(control: Any) -> str:
        readout = control.locator(".widget-readout")
        return readout.first.inner_text().strip() if readout.count() else "?"

    def wait_for_new_image(self, figure: int, old_src: str, timeout_ms: float = 60_000) -> None:
        """Wait until a figure's image has been replaced (its ``src`` differs from ``old_src``)."""
        image = self.figure_widgets.nth(figure).locator(":scope > img.widget-image")
        try:
            self.page.wait_for_function(
                "([img, old]) => img.src !== old && img.complete && img.naturalWidth > 0",
                arg=[image.element_handle(), old_src],
                timeout=timeout_ms,
                polling=100,
            )
        except playwright_sync.TimeoutError as exc:
            raise TimeoutError(
                f"the image of interactive figure {figure} was not redrawn within "
                f"{timeout_ms / 1000:.0f} s"
            ) from exc

    def close_notebook(self) -> None:
        """Shut down the open notebook's kernel and close its tab without saving."""
        if self.notebook_path is None:
            return
        self.page.evaluate(
            """async () => {
                const widget = window.__i2dlNotebook;
                window.__i2dlNotebook = undefined;
                window.__i2dlRecorder?.stop();
                window.__i2dlRecorder = undefined;
                if (!widget || widget.isDisposed) { return; }
                try { await widget.sessionContext.shutdown(); } catch (error) { /* gone */ }
                widget.context.model.dirty = false;
                widget.dispose();
            }"""
        )
        self.notebook_path = None

    def usable(self) -> bool:
        """Whether the page still shows a working JupyterLab with no dialog open."""
        if self.page.is_closed():
            return False
        try:
            return self.page.evaluate(
                "() => window.jupyterapp !== undefined"
                " && document.querySelector('.jp-Dialog') === null"
            )
        except playwright_sync.Error:
            return False

    def _require_notebook(self) -> None:
        if self.notebook_path is None:
            raise RuntimeError("open a notebook first: lab.open_notebook(path)")


def _open_lab(browser: Any, server: JupyterServer) -> tuple[Any, LabPage]:
    """A new browser context with JupyterLab loaded from ``server``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    lab = LabPage(page, server)
    page.on(
        "console",
        lambda message: lab.console_errors.append(message.text)
        if message.type == "error" else None,
    )
    page.on("request", lambda request: lab.note_request(request.url))
    page.on("websocket", lambda websocket: lab.note_request(websocket.url))
    try:
        lab.load()
    except BaseException:
        context.close()
        raise
    return context, lab


def _shutdown_kernels(servers: list[JupyterServer]) -> None:
    for server in {id(server): server for server in servers}.values():
        if server.process.poll() is None:
            server.shutdown_kernels()


@pytest.fixture
def lab_page(browser: Any) -> Iterator[Callable[[JupyterServer], LabPage]]:
    """Factory: ``lab_page(server)`` -> a :class:`LabPage` in a fresh browser context.

    After the test the context is closed and every kernel of the servers used is shut down.
    """
    opened: list[tuple[Any, LabPage]] = []

    def open_lab(server: JupyterServer) -> LabPage:
        opened.append(_open_lab(browser, server))
        return opened[-1][1]

    yield open_lab
    for context, _ in opened:
        context.close()
    # Kernels outlive the page; free their memory for the next test on this server.
    _shutdown_kernels([lab.server for _, lab in opened])


@pytest.fixture(scope="session")
def _lab_page_cache(browser: Any) -> Iterator[dict[int, tuple[Any, LabPage]]]:
    cache: dict[int, tuple[Any, LabPage]] = {}
    yield cache
    for context, _ in cache.values():
        context.close()


@pytest.fixture
def shared_lab_page(
    browser: Any, _lab_page_cache: dict[int, tuple[Any, LabPage]]
) -> Iterator[Callable[[JupyterServer], LabPage]]:
    """Factory like ``lab_page``, but JupyterLab is loaded once per server and session.

    Loading JupyterLab costs a few CPU seconds; tests that open one notebook each share the
    page. After each test its notebook is closed without saving and the server's kernels are
    shut down; a page left with a dialog open, or broken, is replaced by a fresh one.
    """
    used: list[JupyterServer] = []

    def get(server: JupyterServer) -> LabPage:
        key = id(server)
        if key in _lab_page_cache:
            context, lab = _lab_page_cache[key]
            if not lab.usable():
                del _lab_page_cache[key]
                context.close()
        if key not in _lab_page_cache:
            _lab_page_cache[key] = _open_lab(browser, server)
        used.append(server)
        return _lab_page_cache[key][1]

    yield get
    for server in used:
        entry = _lab_page_cache.get(id(server))
        if entry is None:
            continue
        context, lab = entry
        try:
            lab.close_notebook()
        except Exception:
            del _lab_page_cache[id(server)]
            context.close()
    _shutdown_kernels(used)
