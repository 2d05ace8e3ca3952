"""Data masks: inside a graded ex11 kernel the held-out digits are blanked, labels included.

Three levels: the mask itself and where its declaration is read (no kernel); real sandboxed
kernels started as the grader starts them, one with ex11's mask and one without, probed from
inside (the loaders, every path to the file, an attempt to unmount the mask, and a label lookup
answering a hidden test); and one autograde run of two tiny purpose-built exercises, one that
declares the mask and one that does not, with an honest and a cheating hand-in each.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import json
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from jupyter_client.blocking import BlockingKernelClient
from nbformat.v4 import new_code_cell, new_notebook

from grader.course import Repository, nbgrader_config
from grader.data_masks import (
    MASKED_LABEL,
    MaskError,
    bind_pairs,
    declared_masks,
    ex11_held_out,
    masked_file,
    masks_for,
    source_masks,
)
from grader.hidden import split_regions
from grader.integrity import is_test_cell
from grader.kernels import Kernel, KernelSettings
from grader.remote import Channel, run_hidden
from grader.sample import student_version, write_notebook
from grader.sandbox import Limits, describe, sandbox_available, wrap_kernel_command
from i2dl.data import load_digits
from tests.grader.conftest import REPO, run_cli

pytestmark = pytest.mark.grader
needs_sandbox = pytest.mark.skipif(
    not sandbox_available(), reason="bubblewrap is not installed: data masks need the sandbox"
)

EX11 = "ex11_autoencoder_transfer"
EX11_SOURCE = REPO.solutions / EX11 / f"{EX11}.ipynb"
MASK = "digits_ex11"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the mask and its declaration (no kernel) ---------------------------------------------


def _assignments(code: str, names: set[str]) -> list[ast.stmt]:
    """Top-level assignments of ``code`` whose targets are all among ``names``."""
    chosen = []
    for node in ast.parse(code).body:
        if not isinstance(node, ast.Assign):
            continue
        targets = [t for target in node.targets for t in ast.walk(target)
                   if isinstance(t, ast.Name)]
        if targets and all(t.id in names for t in targets):
            chosen.append(node)
    return chosen


def _run_assignments(code: str, names: set[str]) -> dict:
    namespace: dict = {"np": np, "load_digits": load_digits}
    for node in _assignments(code, names):
        exec(compile(ast.Module([node], []), "<cell>", "exec"), namespace)
    return namespace


def test_the_masked_rows_are_the_held_out_split_of_the_setup_cell_and_of_the_hidden_tests():
    held_out = ex11_held_out()
    source = nbformat.read(EX11_SOURCE, as_version=4)
    released = nbformat.read(REPO.exercises / EX11 / f"{EX11}.ipynb", as_version=4)
    setup = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    released_setup = [c.source for c in released.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    assert len(setup) == 1 and released_setup == [setup[0].source]
    names = {"images", "labels", "order", "unlabeled_idx", "val_idx", "HELD_OUT"}
    ns = _run_assignments(setup[0].source, names)
    assert np.array_equal(ns["HELD_OUT"], held_out)
    assert len(held_out) == 597 and len(np.unique(held_out)) == 597
    # The rows whose labels the student's notebook uses are all outside the mask.
    used = np.concatenate([ns["unlabeled_idx"], ns["val_idx"]])
    assert len(np.intersect1d(used, held_out)) == 0 and len(used) + 597 == 1797

    hidden_names = {"_images", "_labels", "_", "_held_out", "_pool"}
    held_out_regions = pool_regions = 0
    for cell in source.cells:
        if not is_test_cell(cell):
            continue
        for hidden, code in split_regions(cell.source):
            if not hidden or "load_digits" not in code:
                continue
            ns = _run_assignments(code, hidden_names)
            assert "_held_out" in ns or "_pool" in ns, f"{cell.metadata.nbgrader.grade_id}"
            if "_held_out" in ns:  # the same images, in a fresh random order
                held_out_regions += 1
                assert sorted(ns["_held_out"]) == sorted(held_out)
            if "_pool" in ns:  # training pools never reach into the held-out rows
                pool_regions += 1
                assert len(np.intersect1d(ns["_pool"], held_out)) == 0
    assert (held_out_regions, pool_regions) == (5, 2)


def test_the_masked_copy_blanks_exactly_the_held_out_rows():
    copy, real = masked_file(MASK)
    assert real.name == "digits.csv.gz" and real.parent.parts[-3:] == ("sklearn", "datasets",
                                                                        "data")
    assert masked_file(MASK) == (copy, real)  # written once, then reused
    masked = np.loadtxt(gzip.open(copy), delimiter=",")
    true = np.loadtxt(gzip.open(real), delimiter=",")
    held_out = ex11_held_out()
    kept = np.setdiff1d(np.arange(1797), held_out)
    assert masked.shape == true.shape == (1797, 65)
    assert np.array_equal(masked[kept], true[kept])
    assert np.all(masked[held_out, :64] == 0) and np.all(masked[held_out, 64] == MASKED_LABEL)
    # the copy's text keeps every other row byte for byte
    masked_lines = gzip.decompress(copy.read_bytes()).decode().splitlines()
    true_lines = gzip.decompress(real.read_bytes()).decode().splitlines()
    assert [masked_lines[i] for i in kept] == [true_lines[i] for i in kept]


def test_masks_are_read_from_the_source_notebook_only(tmp_path):
    assert source_masks(EX11_SOURCE) == (MASK,)
    released = json.loads((REPO.exercises / EX11 / f"{EX11}.ipynb").read_text())
    assert "i2dl" not in released["metadata"]  # a hand-in cannot carry the declaration back
    config = nbgrader_config(tmp_path, REPO.solutions, tmp_path / "release")
    ids = {"student": "s", "assignment": EX11, "notebook": EX11}
    copy, real = masked_file(MASK)
    assert masks_for(config, {"nbgrader": ids}) == ((str(copy), str(real)),)
    other = {"student": "s", "assignment": "ex03_layers", "notebook": "ex03_layers"}
    assert masks_for(config, {"nbgrader": other}) == ()
    assert masks_for(config, {}) == ()
    assert source_masks(tmp_path / "no-such.ipynb") == ()
    assert declared_masks({"i2dl": {"masked_data": [MASK, MASK]}}) == (MASK,)
    assert declared_masks({"kernelspec": {}}) == ()


@pytest.mark.parametrize(("metadata", "message"), [
    ({"i2dl": {"masked_data": MASK}}, "should be a list of mask names (known: digits_ex11)"),
    ({"i2dl": {"masked_data": ["digits_typo"]}},
     "names unknown mask(s) digits_typo; known: digits_ex11"),
    ({"i2dl": ["digits_ex11"]}, 'metadata i2dl should be a dict such as {"masked_data": [...]}'),
])
def test_a_wrong_declaration_is_refused_with_what_to_write(metadata, message):
    with pytest.raises(MaskError) as caught:
        declared_masks(metadata, "solutions/ex/ex.ipynb")
    assert str(caught.value).startswith("solutions/ex/ex.ipynb: metadata i2dl")
    assert message in str(caught.value)


def test_without_bubblewrap_the_warning_says_masks_are_not_applied(monkeypatch, tmp_path):
    monkeypatch.setenv("I2DL_BWRAP", "")
    assert describe().startswith("WARNING")
    assert "data masks (held-out labels hidden from kernels" in describe()
    assert "are NOT applied" in describe()
    cmd = wrap_kernel_command(["python", "-m", "ipykernel"], tmp_path, tmp_path, Limits(),
                              masks=bind_pairs([MASK]))
    assert cmd[-3:] == ["python", "-m", "ipykernel"] and "--ro-bind" not in cmd


# --- inside real sandboxed kernels --------------------------------------------------------

STUDENT = '''
import gzip, hashlib, json, os
import numpy as np
import sklearn.datasets
from i2dl.data import load_digits

images, labels = load_digits(flatten=True)
lookup = {row.tobytes(): int(label) for row, label in zip(images, labels)}

def predict(x):
    """Answer the grader from a table of every labelled digit load_digits gives."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return np.array([lookup.get(row.tobytes(), -1) for row in x])

def report():
    bunch = sklearn.datasets.load_digits()
    return json.dumps({
        "labels": labels.tolist(),
        "sklearn_labels": bunch.target.tolist(),
        "pixels": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest(),
        "row_sums": images.sum(axis=1).tolist(),
        "five_classes": sorted(set(sklearn.datasets.load_digits(n_class=5).target.tolist())),
    })
'''


class Sandboxed:
    """A kernel started as the grader starts one, with the code above run in it."""

    def __init__(self, masks: tuple[tuple[str, str], ...]) -> None:
        settings = KernelSettings(
            "python3", Limits(memory_bytes=2 * 1024**3), ("--HistoryManager.hist_file=:memory:",),
            masks,
        )
        self.kernel = Kernel(settings)
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.kernel.km.get_connection_info(session=False))
        self.client.start_channels(hb=False)
        self.client.wait_for_ready(timeout=60)
        self.run(STUDENT)
        self.channel = Channel(
            self.kernel.rpc, self.kernel.inbox, self.kernel.outbox, self.kernel.alive
        )

    def run(self, code: str) -> str:
        """Run ``code`` in the kernel; return what it printed (an error fails the test)."""
        printed: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(printed)

    def close(self) -> None:
        self.channel.close()
        self.client.stop_channels()
        self.kernel.discard()


@pytest.fixture(scope="module")
def masked():
    kernel = Sandboxed(bind_pairs([MASK]))
    yield kernel
    kernel.close()


@pytest.fixture(scope="module")
def unmasked():
    kernel = Sandboxed(())
    yield kernel
    kernel.close()


@needs_sandbox
def test_masked_kernel_has_every_label_outside_held_out_and_none_inside(masked):
    seen = json.loads(masked.run("print(report())"))
    images, labels = load_digits(flatten=True)
    held_out = ex11_held_out()
    kept = np.setdiff1d(np.arange(1797), held_out)
    for name in ("labels", "sklearn_labels"):
        got = np.array(seen[name])
        assert got.shape == (1797,)
        assert np.array_equal(got[kept], labels[kept])
        assert np.all(got[held_out] == MASKED_LABEL)  # not one held-out label is there
    sums = np.array(seen["row_sums"])
    assert np.all(sums[held_out] == 0) and np.allclose(sums[kept], images[kept].sum(axis=1))
    assert seen["five_classes"] == [-1, 0, 1, 2, 3, 4]  # the loader's filters still work


@needs_sandbox
def test_unmasked_kernel_sees_the_true_digits(unmasked):
    seen = json.loads(unmasked.run("print(report())"))
    images, labels = load_digits(flatten=True)
    assert seen["labels"] == seen["sklearn_labels"] == labels.tolist()
    assert seen["pixels"] == _sha(np.ascontiguousarray(images).tobytes())
    real = masked_file(MASK)[1]
    assert unmasked.run(f"print(hashlib.sha256(open({str(real)!r}, 'rb').read()).hexdigest())"
                        ).strip() == _sha(real.read_bytes())


# Every path to the file: as sklearn finds it, through the venv's lib64 link, through
# /proc/self/root, after trying to unmount the mask, and any file named like it anywhere.
PROBE = r'''
import ctypes, importlib.resources
def _digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
_real = str(importlib.resources.files("sklearn.datasets.data") / "digits.csv.gz")
_found = {}
for _root, _dirs, _files in os.walk("/"):
    if _root in ("/proc", "/sys", "/dev"):
        _dirs[:] = []
        continue
    for _name in _files:
        if "digits.csv" in _name:
            _found[os.path.join(_root, _name)] = _digest(os.path.join(_root, _name))
_libc = ctypes.CDLL(None, use_errno=True)
_unmount = _libc.umount2(_real.encode(), 2)  # MNT_DETACH
print(json.dumps({
    "real": _real,
    "paths": {p: _digest(p) for p in [_real, _real.replace("/lib/", "/lib64/", 1),
                                      os.path.realpath(_real), "/proc/self/root" + _real]
              if os.path.exists(p)},
    "found": _found,
    "unmount": [_unmount, ctypes.get_errno()],
    "gzip_rows": len(gzip.open(_real).read().decode().splitlines()),
}))
'''


@needs_sandbox
def test_every_path_to_the_file_in_the_masked_kernel_gives_the_masked_copy(masked):
    copy, real = masked_file(MASK)
    seen = json.loads(masked.run(PROBE))
    masked_digest, real_digest = _sha(copy.read_bytes()), _sha(real.read_bytes())
    assert masked_digest != real_digest
    assert seen["real"] == str(real)
    lib64 = str(real).replace("/lib/", "/lib64/", 1)
    expected = {str(real), str(real.resolve()), "/proc/self/root" + str(real)}
    assert set(seen["paths"]) == expected | ({lib64} if Path(lib64).exists() else set())
    assert set(seen["paths"].values()) == {masked_digest}
    assert seen["found"] == {str(real): masked_digest}  # no other copy is reachable
    assert seen["unmount"] == [-1, 1]  # EPERM: the kernel cannot lift the mask
    assert seen["gzip_rows"] == 1797


@needs_sandbox
@pytest.mark.parametrize(("kernel", "right", "unanswered"), [("masked", 0, 597),
                                                             ("unmasked", 597, 0)])
def test_a_label_lookup_answers_no_held_out_image_under_the_mask(kernel, right, unanswered,
                                                                 request):
    student = request.getfixturevalue(kernel)
    hidden = (
        "from grader.data_masks import ex11_held_out\n"
        "from i2dl.data import load_digits\n"
        "_images, _labels = load_digits(flatten=True)\n"
        "_idx = np.random.default_rng(3).permutation(ex11_held_out())\n"
        "_pred = np.asarray(predict(_images[_idx]))\n"
        "print(int(np.sum(_pred == _labels[_idx])), int(np.sum(_pred == -1)))\n"
    )
    error, printed = run_hidden(hidden, student.channel, time.monotonic() + 60)
    assert error is None
    assert printed == f"{right} {unanswered}\n"


# --- one autograde run: a tiny exercise with the mask, the same without -------------------

ANSWER = '''### BEGIN SOLUTION
images, labels = load_digits(flatten=True)
known = np.random.default_rng(11).permutation(len(images))[:1200]

def predict(x):
    """Nearest neighbour among the 1200 digits outside the held-out split."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    train = images[known]
    distance = (x**2).sum(1)[:, None] - 2 * x @ train.T + (train**2).sum(1)[None, :]
    return labels[known][distance.argmin(axis=1)]
### END SOLUTION'''

TEST = '''"""predict: at least 90% of the held-out digits right (10 points)"""
assert callable(predict), "define predict(x)"
### BEGIN HIDDEN TESTS
from grader.data_masks import ex11_held_out
from i2dl.data import load_digits

_images, _labels = load_digits(flatten=True)
_idx = np.random.default_rng().permutation(ex11_held_out())
_pred = np.asarray(predict(_images[_idx]))
_right = int(np.sum(_pred == _labels[_idx]))
print(f"{_right} of {len(_idx)} held-out digits right")
assert _right >= 0.9 * len(_idx), f"only {_right} of {len(_idx)} held-out digits right"
### END HIDDEN TESTS'''

LOOKUP = '''images, labels = load_digits(flatten=True)
lookup = {row.tobytes(): int(label) for row, label in zip(images, labels)}

def predict(x):
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return np.array([lookup.get(row.tobytes(), -1) for row in x])
'''


def _nbgrader(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "solution": False, "locked": False, "task": False}
    meta.update(flags, grade_id=grade_id, schema_version=3)
    return {"nbgrader": meta}


def _exercise(masks: list[str] | None):
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfrom i2dl.data import load_digits",
                      metadata=_nbgrader("setup", locked=True)),
        new_code_cell(ANSWER, metadata=_nbgrader("answer", solution=True)),
        new_code_cell(TEST, metadata=_nbgrader("test_predict", grade=True, locked=True,
                                               points=10)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if masks is not None:
        nb.metadata["i2dl"] = {"masked_data": masks}
    return nb


@needs_sandbox
def test_autograde_applies_the_mask_the_source_declares_whatever_the_hand_in_says(tmp_path):
    from grader.release import release

    course = Repository(tmp_path / "course")
    exercises = {"exmask": [MASK], "exopen": None}
    for name, masks in exercises.items():
        write_notebook(_exercise(masks), course.solutions / name / f"{name}.ipynb")
    release(course, list(exercises), tmp_path / "release-work")
    subs = tmp_path / "subs"
    for name in exercises:
        honest = student_version(course, name, name)
        write_notebook(honest, subs / "honest" / name / f"{name}.ipynb")
        cheat = student_version(course, name, name, rewrite={"answer": lambda _s: LOOKUP})
        write_notebook(cheat, subs / "lookup" / name / f"{name}.ipynb")
    stripped = student_version(course, "exmask", "exmask", rewrite={"answer": lambda _s: LOOKUP})
    stripped.metadata["i2dl"] = {"masked_data": []}
    write_notebook(stripped, subs / "stripper" / "exmask" / "exmask.ipynb")

    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--no-progress",
                   env={"I2DL_COURSE_ROOT": str(course.root)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "grades.csv", newline="") as fh:
        rows = {(r["student"], r["exercise"]): (r["score"], r["status"])
                for r in csv.DictReader(fh)}
    assert rows == {
        ("honest", "exmask"): ("10", "ok"),
        ("honest", "exopen"): ("10", "ok"),
        ("lookup", "exmask"): ("0", "ok"),  # every held-out digit unanswered
        ("lookup", "exopen"): ("10", "ok"),  # the same code with the labels in reach
        ("stripper", "exmask"): ("0", "ok"),  # the hand-in's metadata changes nothing
        ("stripper", "exopen"): ("0", "missing"),
    }

    def printed(student: str, exercise: str) -> str:
        graded = nbformat.read(out / "autograded" / student / exercise / f"{exercise}.ipynb",
                               as_version=4)
        cell = next(c for c in graded.cells if is_test_cell(c))
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    assert printed("lookup", "exmask") == "0 of 597 held-out digits right\n"
    assert printed("stripper", "exmask") == "0 of 597 held-out digits right\n"
    assert printed("lookup", "exopen") == "597 of 597 held-out digits right\n"
