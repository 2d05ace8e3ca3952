"""The instructor's side in chromium: nbgrader's own UI on this course, and the feedback pages.

``i2dl-grader lab`` starts JupyterLab exactly as an instructor would (``make lab`` on the course
folder, ``make lab COURSE=OUT`` on a graded class), on a free loopback port with temporary
Jupyter folders. One hand-in of ex08 is autograded first: its conv_output_size is wrong (visible
checks fail), its receptive_field only knows the visible examples (a hidden test fails), and it
answers the written task, which carries math.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright_sync
import pytest
from nbgrader.api import Gradebook

from grader.course import COURSE_ID
from grader.sample import student_version, write_notebook
from tests.browser.conftest import USER_SETTINGS, JupyterServer, _free_port
from tests.grader.conftest import REPO, run_cli

EX = "ex08_cnn_layers"
STUDENT = "carol"
WRITTEN = "explain_downsampling"
ANSWER = (
    "Without pooling the field grows by 2 pixels per layer, $r_L = 2L + 1$, so 112 layers; with "
    "pooling after every convolution 13 layers, since each stride doubles the jump:\n\n"
    "$$j_k = j_{k-1}\\, s_k.$$\n\nThe cost is lost resolution."
)
RECEPTIVE_FIELD_FROM_A_TABLE = '''def receptive_field(layers):
    known = {((3, 1), (3, 1), (3, 1)): [3, 5, 7], ((3, 1), (2, 2), (3, 1)): [3, 4, 8],
             ((7, 2), (3, 2), (3, 1), (3, 1)): [7, 11, 19, 27]}
    return known.get(tuple(layers), [0] * len(layers))
'''
WRONG_OUTPUT_SIZE = "def conv_output_size(n, f, stride=1, padding=0):\n    return n - f\n"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
SERVER_START_S = 240  # the course folder's first start records every exercise in its gradebook


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    """OUT of ``i2dl-grader autograde`` for the one hand-in described above."""
    root = tmp_path_factory.mktemp("class")
    nb = student_version(REPO, EX, EX, rewrite={
        "output_size": lambda _: WRONG_OUTPUT_SIZE,
        "receptive_field": lambda _: RECEPTIVE_FIELD_FROM_A_TABLE,
        WRITTEN: lambda _: ANSWER,
    })
    write_notebook(nb, root / "submissions" / STUDENT / EX / f"{EX}.ipynb")
    out = root / "out"
    proc = run_cli("autograde", str(root / "submissions"), "--out", str(out), "--workers", "1",
                   "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    [row] = report["submissions"]
    assert (row["score"], row["max_score"], row["status"]) == (65.0, 100.0, "ok")
    lost = {t["grade_id"] for t in row["tests"] if t["score"] < t["max_score"]}
    assert lost == {"test_output_size", "test_conv_forward_naive", "test_conv_backward_naive",
                    "test_receptive_field", WRITTEN}
    return out


def _start_lab(args: list[str], root: Path, state: Path) -> JupyterServer:
    """``i2dl-grader ARGS --no-browser`` with its own Jupyter folders; wait until it answers."""
    folders = {name: state / name for name in ("config", "data", "runtime", "ipython",
                                                "settings", "workspaces")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for relative, settings in USER_SETTINGS.items():
        target = folders["settings"] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings), encoding="utf-8")
    # What `make lab` does not set: the app handle the tests drive, and no update checks.
    (folders["config"] / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {
        "expose_app_in_browser": True, "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTER_NO_CONFIG", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH")}
    env.update(
        JUPYTER_TOKEN=token, JUPYTER_CONFIG_DIR=str(folders["config"]),
        JUPYTER_DATA_DIR=str(folders["data"]), JUPYTER_RUNTIME_DIR=str(folders["runtime"]),
        IPYTHONDIR=str(folders["ipython"]), JUPYTERLAB_SETTINGS_DIR=str(folders["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(folders["workspaces"]),
    )
    log_path = state / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "grader", *args, "--no-browser", "--port", str(port)],
            cwd=REPO.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = JupyterServer(root, port, token, process, state, log_path)
    try:
        server.wait_until_ready(timeout=SERVER_START_S)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def class_lab(graded_class, tmp_path_factory) -> Iterator[JupyterServer]:
    """``make lab COURSE=OUT``: Formgrader on the graded class."""
    server = _start_lab(["lab", str(graded_class)], graded_class,
                        tmp_path_factory.mktemp("class-lab") / "state")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory) -> Iterator[JupyterServer]:
    """``make lab`` with a course folder of its own."""
    course = tmp_path_factory.mktemp("course-folder")
    server = _start_lab(["--course-dir", str(course), "lab"], course,
                        tmp_path_factory.mktemp("course-lab") / "state")
    yield server
    server.stop()


def _table(page, selector: str = "#main-table tr") -> list[list[str]]:
    """The cells' text of the table rows at ``selector``, once the page has filled them in."""
    page.wait_for_function(
        """(sel) => { const rows = [...document.querySelectorAll(sel)];
                      return rows.length > 0 && rows.every(r => r.cells.length > 1); }""",
        arg=selector,
    )
    return page.locator(selector).evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")


def _formgrader(browser, server: JupyterServer):
    """A browser context logged in to ``server`` (the token is traded for a cookie), and a page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server.url("formgrader"))
    page.wait_for_url("**/formgrader/manage_assignments")
    return context, page


def _wait_for_grades(page) -> None:
    """Until Formgrader's grading page has loaded the scores (its inputs save only then)."""
    page.wait_for_function("() => window.formgrader?.grades?.loaded === true")


# nbgrader's JupyterLab panels, by the command that opens each and the id it gives the panel.
PANELS = {"nbgrader:open-course-list": "nbgrader-course-list",
          "nbgrader:open-assignment-list": "nbgrader-assignment-list"}


def _panel_text(lab, command: str, expect: str) -> str:
    """Open an nbgrader panel in JupyterLab; its text once ``expect`` shows in it.

    The panel is found by its id, not as the shell's current widget: that one follows the
    keyboard focus, which a headless browser on a busy machine may give the panel late or never.
    """
    lab.page.evaluate("(c) => window.jupyterapp.commands.execute(c)", command)
    panel = PANELS[command]
    try:
        lab.page.wait_for_function(
            "([id, t]) => document.getElementById(id)?.innerText.includes(t)",
            arg=[panel, expect])
    except playwright_sync.TimeoutError as exc:
        shown = lab.page.evaluate("(id) => document.getElementById(id)?.innerText", panel)
        raise AssertionError(
            f"{command}: {expect!r} did not show in the panel #{panel}; it shows {shown!r}. "
            f"Console errors: {lab.console_errors}\nServer log:\n{lab.server.log()[-4000:]}"
        ) from exc
    return lab.page.evaluate("(id) => document.getElementById(id).innerText", panel)


def test_formgrader_lists_every_exercise_and_releases_one_to_the_assignment_list(
    course_lab, browser, lab_page
):
    context, page = _formgrader(browser, course_lab)
    page.goto(f"{course_lab.base_url}/formgrader/gradebook")
    assert _table(page) == [[ex, "None", "0", "0 / 100"] for ex in REPO.exercise_names()]
    page.goto(f"{course_lab.base_url}/formgrader/manage_assignments")
    rows = _table(page)
    assert [(r[0], r[2]) for r in rows] == [(ex, "draft") for ex in REPO.exercise_names()]
    row = page.locator("#main-table tr", has=page.get_by_role("link", name=EX, exact=True))
    row.locator(".glyphicon-cloud-upload").click()
    released = page.locator("#success-modal")
    released.wait_for()
    assert f"Successfully released '{EX}'." in released.inner_text()
    context.close()

    lab = lab_page(course_lab)
    courses = _panel_text(lab, "nbgrader:open-course-list", COURSE_ID)
    assert courses.split() == ["Available", "formgraders", COURSE_ID, "local"]
    listing = _panel_text(lab, "nbgrader:open-assignment-list", EX)
    assert "Error" not in listing
    assert listing.split("Released assignments")[1].split("Downloaded assignments")[0].split() == [
        EX, COURSE_ID, "Fetch"]
    lab.page.get_by_role("button", name="Fetch").click()
    lab.page.wait_for_function(
        """([id, ex]) => document.getElementById(id).innerText
                     .split('Downloaded assignments')[1].split('Submitted assignments')[0]
                     .includes(ex)""",
        arg=[PANELS["nbgrader:open-assignment-list"], EX],
    )
    assert (course_lab.root_dir / "fetched" / EX / f"{EX}.ipynb").is_file()
    assert lab.console_errors == []


def test_a_score_set_in_manual_grading_reaches_the_gradebook_and_the_export(
    class_lab, graded_class, browser
):
    context, page = _formgrader(browser, class_lab)
    page.goto(f"{class_lab.base_url}/formgrader/gradebook/{EX}/{EX}")
    assert [r[1:6] for r in _table(page)] == [["Submission #1", "65 / 100", "65 / 95", "0 / 5",
                                               "0 / 0"]]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_role("link", name="Submission #1").click()
    _wait_for_grades(page)
    # The written answer's math is MathML drawn by the browser, and the page loads nothing
    # from outside this server (nbconvert's template would load MathJax from a CDN).
    page.wait_for_load_state("networkidle")
    origin = class_lab.base_url.split("/", 3)[:3]
    assert [url for url in requests if url.split("/", 3)[:3] != origin] == []
    answer = page.locator(".text_cell_render", has_text="The cost is lost resolution")
    assert answer.evaluate(
        """(cell, ns) => [...cell.querySelectorAll('math')]
              .filter(m => m.namespaceURI === ns && m.getBoundingClientRect().width > 0)
              .map(m => m.getAttribute('display') || 'inline')""",
        MATHML_NS,
    ) == ["inline", "block"]
    assert "$" not in answer.inner_text()
    # grade the written answer, and give partial credit for the hidden test it failed
    for grade_id, score in ((WRITTEN, "4"), ("test_receptive_field", "2")):
        box = page.locator(f"input#{grade_id}")
        with page.expect_response(
            lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"
        ) as saved:
            box.fill(score)
            box.press("Tab")
        assert saved.value.status == 200
    page.reload()
    _wait_for_grades(page)
    assert page.locator(f"input#{WRITTEN}").input_value() == "4"
    page.goto(f"{class_lab.base_url}/formgrader/gradebook/{EX}/{EX}")
    assert [r[2:5] for r in _table(page)] == [["71 / 100", "67 / 95", "4 / 5"]]
    context.close()

    with Gradebook(f"sqlite:///{graded_class / 'gradebook.db'}", COURSE_ID) as gb:
        written = gb.find_grade(WRITTEN, EX, EX, STUDENT)
        adjusted = gb.find_grade("test_receptive_field", EX, EX, STUDENT)
        assert (written.manual_score, written.score) == (4.0, 4.0)
        assert (adjusted.auto_score, adjusted.manual_score, adjusted.score) == (0.0, 2.0, 2.0)
    proc = run_cli("export", str(graded_class), "--format", "csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(graded_class / "export-csv.csv", newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["student", EX, "total"], [STUDENT, "71", "71"]]


def test_the_feedback_page_shows_rendered_math_and_loads_nothing_from_the_network(
    graded_class, browser
):
    path = graded_class / "feedback" / STUDENT / EX / f"{EX}.html"
    source = path.read_text(encoding="utf-8")
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("networkidle")
    assert requests == [path.as_uri()]
    math = page.evaluate(
        """(ns) => { const all = [...document.querySelectorAll('math')];
            return {count: all.length,
                    mathml: all.filter(m => m.namespaceURI === ns).length,
                    drawn: all.filter(m => m.getBoundingClientRect().width > 0).length,
                    blocks: all.filter(m => m.getAttribute('display') === 'block').length}; }""",
        MATHML_NS,
    )
    formulas = source.count("<math ")
    assert formulas > 200
    assert math == {"count": formulas, "mathml": formulas, "drawn": formulas,
                    "blocks": source.count('<math xmlns="' + MATHML_NS + '" display="block"')}
    text = page.locator("body").inner_text()
    assert "$" not in text
    rows = {r[0]: r[1:] for r in _table(page, "table tr") if r[0] != "test"}
    assert rows["test_output_size"] == ["0 / 5", "AssertionError: n=7, f=3, stride 1, no padding: "
                                        "expected 5", "visible check"]
    assert rows["test_receptive_field"][0] == "0 / 5"
    assert rows["test_receptive_field"][1].startswith("AssertionError: receptive_field([")
    assert rows["test_receptive_field"][2] == "hidden test"
    assert rows[WRITTEN] == ["– / 5", "a written answer: your instructor grades it", "by hand"]
    answer = page.locator(".cell.answer")
    assert answer.locator("math").count() == 2
    assert answer.locator(".manual").inner_text() == f"{WRITTEN}: graded by hand (5 points)"
    assert answer.locator("p").nth(1).inner_text().startswith("Without pooling the field grows")
    context.close()
