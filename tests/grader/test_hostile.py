"""Hostile submissions: each is graded in the sandbox and must get exactly the expected result.

Resource and isolation attacks sit at the top of the ``tanh`` answer cell, after the affine,
ReLU and both sigmoid tests (55 points) have run, and before the tanh answer itself; the rest of the
notebook is solved. Attacks on the verdict (patched comparisons, input transformers, exception
handlers, forged answers, delegation, lying objects) are measured against the same work without
the attack: they must not earn a single point more.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import socket
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.sample import student_version, write_notebook
from grader.sandbox import sandbox_available
from grader.submissions import MAX_DEPTH, MAX_FILES
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = [
    pytest.mark.grader,
    pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed"),
]

EARNED_BEFORE = 55  # affine_forward 10 + affine_backward 15 + relu 10 + sigmoid 10 + stable 10

LOOP = "while True:\n    pass\n"
STUBBORN = (
    "while True:\n"
    "    try:\n"
    "        while True:\n"
    "            pass\n"
    "    except KeyboardInterrupt:\n"
    "        pass\n"
)
EXIT = "import os\nos._exit(3)\n"
SYS_EXIT = "import sys\nsys.exit()\n"
MEMORY = "hog = bytearray(8 * 1024**3)\n"
SCRATCH_MIB = 192
DISK = (
    "import os\n"
    "written = 0\n"
    "for _target in ('filler', '/tmp/filler'):\n"
    "    for _i in range(100):\n"
    "        try:\n"
    "            with open(f'{_target}{_i}', 'wb') as _f:\n"
    "                _f.write(b'x' * 64 * 1024**2)\n"
    "            written += 64\n"
    "        except OSError:\n"
    "            break\n"
    "print('wrote MiB', written)\n"
)
FORK = (
    "import os, time\n"
    "children = 0\n"
    "try:\n"
    "    while children < 10_000:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(20)\n"
    "            os._exit(0)\n"
    "        children += 1\n"
    "except OSError:\n"
    "    pass\n"
    "print('forked', children)\n"
)


def _probe_paths(paths: list[str]) -> str:
    return (
        f"for _p in {paths!r}:\n"
        "    try:\n"
        "        with open(_p, 'rb') as _f:\n"
        "            _f.read(64)\n"
        "        print('READ', _p)\n"
        "    except OSError:\n"
        "        print('blocked', _p)\n"
    )


def _write_paths(paths: list[str]) -> str:
    return (
        f"for _p in {paths!r}:\n"
        "    try:\n"
        "        with open(_p, 'w') as _f:\n"
        "            _f.write('pwned')\n"
        "        print('WROTE', _p)\n"
        "    except OSError:\n"
        "        print('blocked', _p)\n"
    )


def _network(port: int) -> str:
    return (
        "import socket\n"
        "for _host in ('127.0.0.1', '10.0.2.2', '1.1.1.1'):\n"
        "    try:\n"
        f"        socket.create_connection((_host, {port}), timeout=2).close()\n"
        "        print('CONNECTED', _host)\n"
        "    except OSError:\n"
        "        print('blocked', _host)\n"
    )


def _with_prefix(code: str):
    return lambda source: code + "\n" + source


# Answers that return zeros of the right shapes and never modify their inputs: no work, and
# no points (every test that checks inputs are left alone also checks the values).
ZERO_ANSWERS = {
    "affine_forward": "def affine_forward(x, w, b):\n"
                      "    return np.zeros((x.shape[0], w.shape[1])), (x, w)\n",
    "affine_backward": "def affine_backward(dout, cache):\n"
                       "    x, w = cache\n"
                       "    return np.zeros(x.shape), np.zeros(w.shape), np.zeros(w.shape[1])\n",
    "affine_relu": "def affine_relu_forward(x, w, b):\n"
                   "    return np.zeros((x.shape[0], w.shape[1])), (x, w)\n\n\n"
                   "def affine_relu_backward(dout, cache):\n"
                   "    x, w = cache\n"
                   "    return np.zeros(x.shape), np.zeros(w.shape), np.zeros(w.shape[1])\n",
    **{
        cell: f"def {cell}_forward(x{extra}):\n    return np.zeros(x.shape), x\n\n\n"
              f"def {cell}_backward(dout, cache):\n    return np.zeros(cache.shape)\n"
        for cell, extra in [("relu", ""), ("sigmoid", ""), ("tanh", ""),
                            ("leaky_relu", ", negative_slope=0.01")]
    },
}
ZERO_SCORE = 0
PATCH_COMPARISONS = (
    "import numpy as _np, i2dl.testing as _t, i2dl.gradcheck as _g\n"
    "_yes = lambda *args, **kwargs: True\n"
    "_np.allclose = _np.isclose = _np.array_equal = _yes\n"
    "_t.assert_close = _g.check_gradients = assert_close = check_gradients = lambda *a, **k: {}\n"
)
INPUT_TRANSFORMER = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
EXCEPTION_HANDLER = (
    "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
)
FORGED_ANSWERS = (
    "import io as _io, json as _json, os as _os, grader.kernel_side as _ks\n"
    "def _forged(in_dir, out_dir, seq):\n"
    "    _buffer = _io.BytesIO()\n"
    "    np.savez(_buffer, __meta__=np.array(_json.dumps({'ok': True, 'value': True})))\n"
    "    with open(_os.path.join(out_dir, f'rep-{seq}.npz'), 'wb') as _f:\n"
    "        _f.write(_buffer.getvalue())\n"
    "_ks.serve = _forged\n"
)
LIARS = (
    "class Liar:\n"
    "    def __init__(self, shape):\n"
    "        self.shape = shape if isinstance(shape, tuple) else (shape,)\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    def __array_function__(self, func, types, args, kwargs):\n"
    "        return True\n"
    "    def __array_ufunc__(self, *args, **kwargs):\n"
    "        return True\n"
)
DELEGATION = (
    "from i2dl.layers import affine_forward, affine_backward, relu_forward, relu_backward, "
    "sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward, leaky_relu_forward, "
    "leaky_relu_backward\n"
)
WRAPPED_DELEGATION = (
    "import i2dl.layers\n\n\n"
    "def relu_forward(x):\n    return i2dl.layers.relu_forward(x)\n\n\n"
    "def relu_backward(dout, cache):\n    return i2dl.layers.relu_backward(dout, cache)\n"
)
# Looks for the hidden tests in the kernel's history; the markers are built, not written, so
# that this cell's own source does not match.
HISTORY = (
    "_marker = 'BEGIN ' + 'HIDDEN'\n"
    "_seen = '\\n'.join(map(str, In)) + str(get_ipython().history_manager.input_hist_raw)\n"
    "print('hidden tests in history:', _marker in _seen or 'call_' + 'own' in _seen)\n"
)


def _zeros(prefix: str = "", answers: dict[str, str] | None = None):
    answers = answers or ZERO_ANSWERS
    rewrite = {cell: (lambda _s, code=code: code) for cell, code in answers.items()}
    rewrite["affine_forward"] = lambda _s: prefix + answers["affine_forward"]
    return student_version(REPO, EX, NB, solved=[], rewrite=rewrite)


def _liars():
    answers = {
        cell: code.replace("np.zeros(", "Liar(") for cell, code in ZERO_ANSWERS.items()
    }
    return _zeros(LIARS, answers)


def _verdict_attacks() -> dict:
    blank_with = {
        "transformer": INPUT_TRANSFORMER,
        "excepthook": EXCEPTION_HANDLER,
    }
    notebooks = {
        student: student_version(REPO, EX, NB, solved=[],
                                 rewrite={"affine_forward": _with_prefix(code)})
        for student, code in blank_with.items()
    }
    notebooks["zeros"] = _zeros()
    notebooks["patcher"] = _zeros(PATCH_COMPARISONS)
    notebooks["forger"] = _zeros(PATCH_COMPARISONS + FORGED_ANSWERS)
    notebooks["liar"] = _liars()
    notebooks["delegator"] = student_version(
        REPO, EX, NB, solved=["affine_relu"],
        rewrite={"affine_forward": lambda _s: DELEGATION,
                 **{cell: (lambda _s: "") for cell in
                    ("affine_backward", "relu", "sigmoid", "tanh", "leaky_relu")}},
    )
    notebooks["wrapper"] = student_version(
        REPO, EX, NB, rewrite={"relu": lambda _s: WRAPPED_DELEGATION}
    )
    notebooks["historian"] = student_version(
        REPO, EX, NB, rewrite={"leaky_relu": lambda s: s + "\n" + HISTORY}
    )
    return notebooks


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# What the kernel finds in its working folder (IPython's own .ipython aside), and whether a
# linked file reaches it.
LISTING = (
    "\nimport os\n"
    "print('working folder:', sorted(n for n in os.listdir('.') if n != '.ipython'))\n"
    "try:\n"
    "    print('READ secret.txt:', open('secret.txt').read())\n"
    "except OSError:\n"
    "    print('blocked secret.txt')\n"
)
CROWD = 20_000  # small files handed in next to the notebook (a folder and a zip)
DEPTH = 50


def _old_format(nb) -> str:
    """``nb`` as nbformat 3, with nbgrader metadata as an nbgrader of that time wrote it."""
    old = json.loads(nbformat.writes(nbformat.convert(copy.deepcopy(nb), 3), version=3))
    for cell in old["worksheets"][0]["cells"]:
        cell.get("metadata", {}).get("nbgrader", {}).pop("schema_version", None)
    return json.dumps(old)


def _hand_ins_that_point_elsewhere(root: Path, subs: Path) -> dict[str, Path]:
    """Hand-ins made of links, hard links, many files, deep folders and an old format."""
    solution = REPO.solutions / EX / f"{NB}.ipynb"
    full = student_version(REPO, EX, NB)
    path = Path(EX) / f"{NB}.ipynb"
    secret = root / "secret.txt"
    secret.write_text("the instructor's secret")
    (subs / "nblinker" / EX).mkdir(parents=True)
    (subs / "nblinker" / path).symlink_to(solution)
    (subs / "exlinker").mkdir()
    (subs / "exlinker" / EX).symlink_to(solution.parent)
    (subs / "studentlinker").symlink_to(REPO.solutions)
    folder = subs / "secretlinker" / EX
    write_notebook(student_version(REPO, EX, NB, rewrite={"leaky_relu": lambda s: s + LISTING}),
                   folder / f"{NB}.ipynb")
    (folder / "notes.txt").write_text("mine")
    os.link(folder / "notes.txt", folder / "notes-again.txt")  # both names in the hand-in
    (folder / "secret.txt").symlink_to(secret)
    folder = subs / "looper" / EX
    write_notebook(full, folder / f"{NB}.ipynb")
    for name, target in [("a", "b"), ("b", "a"), ("self", "self"), ("up", "..")]:
        (folder / name).symlink_to(target)
    instructor = write_notebook(full, root / "instructor" / f"{NB}.ipynb")
    (subs / "hardlinker" / EX).mkdir(parents=True)
    os.link(instructor, subs / "hardlinker" / path)
    folder = subs / "crowd" / EX
    write_notebook(student_version(REPO, EX, NB, rewrite={"leaky_relu": lambda s: s + LISTING}),
                   folder / f"{NB}.ipynb")
    for i in range(CROWD):
        (folder / f"a{i:05d}.txt").write_text("x")
    with zipfile.ZipFile(subs / "zipcrowd.zip", "w") as zf:
        for i in range(CROWD):
            zf.writestr(f"{EX}/a{i:05d}.txt", "x")
        zf.writestr(path.as_posix(), nbformat.writes(full))
    folder = subs / "deep" / EX
    write_notebook(full, folder / f"{NB}.ipynb")
    folder.joinpath(*["d"] * DEPTH).mkdir(parents=True)
    folder.joinpath(*["d"] * DEPTH, "bottom.txt").write_text("deep")
    (subs / "oldformat" / EX).mkdir(parents=True)
    (subs / "oldformat" / path).write_text(_old_format(full))
    write_notebook(nbformat.v4.new_notebook(), subs / "emptynb" / path)
    answerless = copy.deepcopy(full)
    answerless.cells = [c for c in answerless.cells
                        if not c.metadata.get("nbgrader", {}).get("solution")]
    write_notebook(answerless, subs / "answerless" / path)
    return {"secret": secret, "instructor": instructor}


@pytest.fixture(scope="session")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs = root / "submissions"
    out = root / "out"
    solution = REPO.solutions / EX / f"{NB}.ipynb"
    other = subs / "honest" / EX / f"{NB}.ipynb"
    write_notebook(student_version(REPO, EX, NB), other)
    outside_marker = root / "outside.txt"
    outside_marker.write_text("untouched")
    pointed_at = _hand_ins_that_point_elsewhere(root, subs)
    protected = [solution, other, outside_marker, *pointed_at.values()]
    before = {p: _digest(p) for p in protected}

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    connections: list[str] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            connections.append(addr[0])
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]

    cases = {
        "loop": LOOP,
        "stubborn": STUBBORN,
        "exiter": EXIT,
        "sysexit": SYS_EXIT,
        "hog": MEMORY,
        "filler": DISK,
        "forker": FORK,
        "snoop": _probe_paths(
            [str(solution), str(out / "gradebook.db"), str(other), "/etc/shadow"]
        ),
        "vandal": _write_paths([str(out / "gradebook.db"), str(other), str(outside_marker),
                                str(solution)]),
        "caller": _network(port),
        "linker": _probe_paths(["leak.txt"]),
    }
    for student, code in cases.items():
        nb = student_version(REPO, EX, NB, rewrite={"tanh": _with_prefix(code)})
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    for student, nb in _verdict_attacks().items():
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    (subs / "linker" / EX / "leak.txt").symlink_to(solution)  # a link handed in with the work
    proc = run_cli(
        "autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
        # endless loops burn a core until the cell timeout: keep it short, far above the
        # few milliseconds the honest cells take
        "--cell-timeout", "6", "--notebook-timeout", "120", "--memory-limit", "1536",
        # small scratch folders: filling them stays fast on a busy machine
        "--scratch-size", str(SCRATCH_MIB),
    )
    stop.set()
    server.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    after = {p: _digest(p) for p in protected}
    return {
        "out": out, "grades": read_grades(out), "report": report,
        "unchanged": before == after, "connections": connections,
        "paths": {"solution": str(solution), "other": str(other)}, "pointed_at": pointed_at,
    }


def _outputs(out: Path, student: str) -> str:
    nb = json.loads((out / "autograded" / student / EX / f"{NB}.ipynb").read_text())
    return "".join(
        "".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def _row(hostile_class, student):
    row = hostile_class["grades"][student]
    return float(row["score"]), row["status"]


@pytest.mark.parametrize("student", ["loop", "stubborn"])
def test_endless_loops_time_out_and_keep_earlier_credit(hostile_class, student):
    assert _row(hostile_class, student) == (EARNED_BEFORE, "timeout")


def test_os_exit_mid_notebook_keeps_earlier_credit(hostile_class):
    assert _row(hostile_class, "exiter") == (EARNED_BEFORE, "crashed")
    detail = next(s for s in hostile_class["report"]["submissions"] if s["student"] == "exiter")
    assert "died" in detail["reason"]


def test_sys_exit_only_costs_the_cell_it_stops(hostile_class):
    # tanh is never defined: its test (5) fails, the rest passes
    assert _row(hostile_class, "sysexit") == (95, "ok")


def test_memory_bomb_is_stopped_with_typed_status(hostile_class):
    assert _row(hostile_class, "hog") == (EARNED_BEFORE, "memory")


def test_disk_fill_is_bounded(hostile_class):
    assert _row(hostile_class, "filler") == (100, "ok")
    printed = _outputs(hostile_class["out"], "filler")
    written = int(printed.split("wrote MiB")[1].split()[0])
    # two tmpfs of SCRATCH_MIB each, the working folder and /tmp, filled in 64 MiB files
    assert SCRATCH_MIB <= written <= 2 * SCRATCH_MIB, printed


def test_fork_loop_stops_at_the_process_limit(hostile_class):
    assert _row(hostile_class, "forker") == (100, "ok")
    printed = _outputs(hostile_class["out"], "forker")
    forked = int(printed.split("forked")[1].split()[0])
    assert forked < 100, printed


def test_submission_cannot_read_solutions_gradebook_or_other_work(hostile_class):
    assert _row(hostile_class, "snoop") == (100, "ok")
    printed = _outputs(hostile_class["out"], "snoop")
    assert "READ" not in printed and printed.count("blocked") == 4, printed


def test_submission_cannot_write_outside_its_folder(hostile_class):
    assert _row(hostile_class, "vandal") == (100, "ok")
    printed = _outputs(hostile_class["out"], "vandal")
    assert "WROTE" not in printed, printed
    assert hostile_class["unchanged"]
    assert hostile_class["grades"]["honest"]["score"] == "100"


def test_submission_has_no_network(hostile_class):
    assert _row(hostile_class, "caller") == (100, "ok")
    printed = _outputs(hostile_class["out"], "caller")
    assert "CONNECTED" not in printed and printed.count("blocked") == 3, printed
    assert hostile_class["connections"] == []


def test_nothing_outside_the_sandbox_changed(hostile_class):
    # the solution, another student's hand-in and a file next to the class are byte-identical
    assert hostile_class["unchanged"]


def test_links_handed_in_are_not_followed(hostile_class):
    assert _row(hostile_class, "linker") == (100, "ok")
    assert "blocked leak.txt" in _outputs(hostile_class["out"], "linker")
    solution = hostile_class["paths"]["solution"]
    assert f"linker: left out {EX}/leak.txt: symbolic link to {solution!r}" in (
        hostile_class["report"]["warnings"]
    )


def _detail(hostile_class, student) -> dict:
    return next(s for s in hostile_class["report"]["submissions"] if s["student"] == student)


def _warnings(hostile_class, student) -> list[str]:
    return [w for w in hostile_class["report"]["warnings"] if w.startswith(f"{student}:")]


NOT_OWN = "a hand-in is graded only from its own regular files"


def test_a_notebook_linked_to_the_solution_is_invalid(hostile_class):
    assert _row(hostile_class, "nblinker") == (0, "invalid")
    solution = hostile_class["paths"]["solution"]
    assert _detail(hostile_class, "nblinker")["reason"] == (
        f"{EX}/{NB}.ipynb was not graded: {EX}/{NB}.ipynb is a symbolic link to {solution!r}; "
        f"{NOT_OWN}"
    )
    assert _warnings(hostile_class, "nblinker") == [
        f"nblinker: left out {EX}/{NB}.ipynb: symbolic link to {solution!r}"
    ]


def test_an_exercise_folder_linked_to_the_solutions_is_invalid(hostile_class):
    assert _row(hostile_class, "exlinker") == (0, "invalid")
    folder = str(REPO.solutions / EX)
    assert _detail(hostile_class, "exlinker")["reason"] == (
        f"{EX}/{NB}.ipynb was not graded: {EX} is a symbolic link to {folder!r}; {NOT_OWN}"
    )


def test_a_student_folder_linked_to_the_solutions_is_invalid(hostile_class):
    assert _row(hostile_class, "studentlinker") == (0, "invalid")
    assert _detail(hostile_class, "studentlinker")["reason"] == (
        f"studentlinker is a symbolic link to {str(REPO.solutions)!r}; links are never "
        "followed: collect the hand-in itself into the submissions folder"
    )


def test_a_notebook_hard_linked_to_a_file_outside_the_hand_in_is_invalid(hostile_class):
    assert _row(hostile_class, "hardlinker") == (0, "invalid")
    assert _detail(hostile_class, "hardlinker")["reason"] == (
        f"{EX}/{NB}.ipynb was not graded: {EX}/{NB}.ipynb is a hard link (the file has 2 names, "
        f"1 of them in this hand-in); {NOT_OWN}"
    )


def test_the_kernel_sees_only_the_regular_files_handed_in(hostile_class):
    # notes.txt and its hard link inside the hand-in arrive; the link to a secret does not
    assert _row(hostile_class, "secretlinker") == (100, "ok")
    printed = _outputs(hostile_class["out"], "secretlinker")
    assert "working folder: ['notes-again.txt', 'notes.txt']" in printed, printed
    assert "blocked secret.txt" in printed and "READ" not in printed, printed
    assert _warnings(hostile_class, "secretlinker") == [
        f"secretlinker: left out {EX}/secret.txt: symbolic link to "
        f"{str(hostile_class['pointed_at']['secret'])!r}"
    ]
    assert hostile_class["unchanged"]


def test_link_loops_are_reported_and_the_work_graded(hostile_class):
    assert _row(hostile_class, "looper") == (100, "ok")
    assert _warnings(hostile_class, "looper") == [
        f"looper: left out {EX}/{name}: symbolic link to {target!r}"
        for name, target in [("a", "b"), ("b", "a"), ("self", "self"), ("up", "..")]
    ]


@pytest.mark.parametrize("student", ["crowd", "zipcrowd"])
def test_twenty_thousand_files_are_capped_and_the_work_graded(hostile_class, student):
    assert _row(hostile_class, student) == (100, "ok")
    beyond = CROWD + 1 - MAX_FILES
    assert _warnings(hostile_class, student) == [
        f"{student}: left out {beyond} files beyond the first {MAX_FILES} (notebooks and files "
        "in exercise folders are kept first)"
    ]


def test_the_kernel_gets_the_capped_files(hostile_class):
    printed = _outputs(hostile_class["out"], "crowd")
    names = [f"a{i:05d}.txt" for i in range(MAX_FILES - 1)]  # and the notebook
    assert f"working folder: {names}" in printed


def test_folders_fifty_levels_deep_are_cut_and_the_work_graded(hostile_class):
    assert _row(hostile_class, "deep") == (100, "ok")
    assert _warnings(hostile_class, "deep") == [
        f"deep: left out {'/'.join([EX] + ['d'] * MAX_DEPTH)}: folder more than {MAX_DEPTH} "
        "levels deep"
    ]


def test_an_nbformat_3_notebook_is_converted_and_graded(hostile_class):
    assert _row(hostile_class, "oldformat") == (100, "ok")
    assert _warnings(hostile_class, "oldformat") == []
    assert f"oldformat/{EX}/{NB}.ipynb: converted from nbformat 3 to 4" in (
        hostile_class["report"]["warnings"]
    )


@pytest.mark.parametrize("student", ["emptynb", "answerless"])
def test_notebooks_without_answer_cells_are_graded_not_crashed(hostile_class, student):
    # the missing cells are put back as released: unanswered, so every test fails
    assert _row(hostile_class, student) == (0, "ok")
    assert all(t["score"] == 0 and t["error"] for t in _tests(hostile_class, student).values())


def test_report_names_the_isolation(hostile_class):
    assert hostile_class["report"]["isolation"].startswith("sandbox: bubblewrap")



def _tests(hostile_class, student) -> dict[str, dict]:
    detail = next(s for s in hostile_class["report"]["submissions"] if s["student"] == student)
    return {t["grade_id"]: t for t in detail["tests"]}


def test_zero_answers_earn_nothing(hostile_class):
    assert _row(hostile_class, "zeros") == (ZERO_SCORE, "ok")
    tests = _tests(hostile_class, "zeros")
    assert tests["test_tanh"]["error"].startswith(
        "AssertionError: tanh_forward(x) does not match the expected value")


def test_patched_comparison_helpers_earn_nothing(hostile_class):
    # np.allclose, np.isclose, np.array_equal, assert_close and check_gradients all say yes in
    # the kernel; the visible checks pass, the hidden tests compare here and fail.
    assert _row(hostile_class, "patcher") == (ZERO_SCORE, "ok")
    tests = _tests(hostile_class, "patcher")
    assert tests["test_affine_forward"]["error"] == (
        "AssertionError: affine_forward differs from the reference on random inputs"
    )


def test_input_transformer_that_empties_every_cell_earns_nothing(hostile_class):
    # Every later cell, the visible checks and the answers included, becomes `pass`; the hidden
    # tests do not go through the kernel's input transformers and find the functions unwritten
    # (affine_forward, in the cell that set the transformer up) or undefined (all others).
    assert _row(hostile_class, "transformer") == (0, "ok")
    tests = _tests(hostile_class, "transformer")
    assert tests["test_affine_forward"]["error"].startswith("NotImplementedError")
    assert tests["test_relu"]["error"] == "NameError: name 'relu_forward' is not defined"
    assert all(t["error"].startswith(("NotImplementedError", "NameError")) for t in tests.values())


def test_custom_exception_handler_hides_no_failure(hostile_class):
    assert _row(hostile_class, "excepthook") == (0, "ok")
    tests = _tests(hostile_class, "excepthook")
    assert all(t["error"].startswith("NotImplementedError") for t in tests.values())


def test_forged_answers_earn_nothing(hostile_class):
    # The kernel's answering code is replaced by one that claims success for every call.
    assert _row(hostile_class, "forger") == (0, "ok")
    tests = _tests(hostile_class, "forger")
    assert all("ProtocolError" in t["error"] for t in tests.values())


def test_objects_that_claim_equality_earn_nothing_more(hostile_class):
    assert _row(hostile_class, "liar") == (ZERO_SCORE, "ok")


def test_delegation_to_the_reference_layers_earns_nothing(hostile_class):
    assert _row(hostile_class, "delegator") == (0, "ok")
    tests = _tests(hostile_class, "delegator")
    assert "not from your notebook" in tests["test_affine_forward"]["error"]
    # affine_relu is the student's own, but it calls the reference layers inside
    assert "DelegationError" in tests["test_affine_relu_forward"]["error"]


def test_a_wrapper_around_the_reference_earns_nothing_for_what_it_wraps(hostile_class):
    # relu (10) and both sandwich tests (20) need relu_forward
    assert _row(hostile_class, "wrapper") == (70, "ok")
    tests = _tests(hostile_class, "wrapper")
    assert "i2dl.layers" in tests["test_relu"]["error"]


def test_hidden_tests_never_reach_the_students_kernel(hostile_class):
    assert _row(hostile_class, "historian") == (100, "ok")
    assert "hidden tests in history: False" in _outputs(hostile_class["out"], "historian")
