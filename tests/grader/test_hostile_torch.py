"""Hostile PyTorch hand-ins of ex09_pytorch, graded in the sandbox in one autograde run.

The trained model is graded by the hidden regions of ``test_accuracy_90`` and
``test_accuracy_96``: 1000 fresh shapes are drawn in the grader, only the images go to the
student's model, and the accuracy is computed in the grader from the scores that come back as
data. Each hand-in below is the full solution with one attack added to ``train_model`` (or to
``shape_cnn``); most attacks trigger on a batch of 1000 images only, i.e. in the hidden test,
after the visible checks have passed (the liars also make those pass). Before the accuracy tests
the notebook earns 65 points; the accuracy tests are worth 25.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.sample import student_version, write_notebook
from grader.sandbox import sandbox_available
from tests.grader.conftest import REPO, read_grades, run_cli

pytestmark = [
    pytest.mark.grader,
    pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed"),
]

EX = NB = "ex09_pytorch"
EARNED_BEFORE = 65  # everything up to the accuracy tests
ACCURACY_TESTS = {"test_accuracy_90", "test_accuracy_96"}
RETURN = "    return model, history"


def _wrap_forward(body: str) -> str:
    """Code that makes the trained model's forward run ``body`` (x, scores known) first."""
    indented = "".join(f"            {line}\n" for line in body.strip("\n").split("\n"))
    return (
        "    honest_forward = model.forward\n\n"
        "    def forward(x):\n"
        "        scores = honest_forward(x)\n"
        "        if len(x) >= 600:  # the validation set (600) and the grader's hidden set (1000)\n"
        f"{indented}"
        "        return scores\n\n"
        "    model.forward = forward\n"
    )


# Scores that agree with whatever they are compared to, in the kernel: argmax, .numpy(), ==,
# allclose. Behind them, every image is a "circle".
SNEAKY = '''
import numpy as np


class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)


class Sneaky(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        result = super().__torch_function__(func, types, args, kwargs)
        return result.view(Agreeable) if func is torch.Tensor.numpy else result

    def __eq__(self, other):
        return torch.ones(self.shape[:1], dtype=torch.bool).as_subclass(Sneaky)

'''
SNEAKY_FORWARD = "return torch.zeros(len(x), 4).as_subclass(Sneaky)"

# A model three times over the budget whose parameters() and the notebook's model_size say
# it is within it; the optimiser is given all the parameters anyway.
LYING_CNN = {
    "old": "        self.classifier = nn.Linear(32, len(CLASSES))\n",
    "new": "        self.classifier = nn.Sequential(nn.Linear(32, 1000), nn.ReLU(),\n"
           "                                        nn.Linear(1000, len(CLASSES)))\n\n"
           "    def parameters(self, recurse=True):\n"
           "        return self.features.parameters(recurse)  # 'only' the convolutions\n",
}
LYING_SIZE = (
    "\n\n\ndef model_size(model):\n"
    "    return sum(p.numel() for p in model.parameters())\n"
)

# Looks for the labels of the grader's images everywhere the kernel can see: in every request
# the grader sends (read before it is answered), in every array and tensor that crossed so far,
# and in the kernel's memory. It would answer with those labels if it found any.
SPY = '''
import gc
import os

import grader.kernel_side as kernel_side

SPIED = {"requests": 0, "members": set(), "label_candidates": 0}
honest_serve = kernel_side.serve


def spying_serve(in_dir, out_dir, seq):
    SPIED["requests"] += 1
    with np.load(os.path.join(in_dir, f"req-{seq}.npz"), allow_pickle=False) as request:
        shapes = {(str(request[key].dtype), request[key].shape)
                  for key in request.files if key != "__meta__"}
    if ("float32", (1000, 1, 16, 16)) in shapes:
        SPIED["members"] |= shapes
    honest_serve(in_dir, out_dir, seq)


kernel_side.serve = spying_serve


def is_label_vector(value, n):
    if isinstance(value, torch.Tensor):
        return tuple(value.shape) == (n,) and not value.is_floating_point()
    return isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype.kind in "iub"


def find_labels(n):
    """Integer vectors of length n: among what crossed in this session, and in the kernel."""
    session = kernel_side._CURRENT
    crossed = list(session.table.arrays.values()) if session is not None else []
    candidates = [v for v in crossed + gc.get_objects() if is_label_vector(v, n)]
    SPIED["label_candidates"] += len(candidates)
    return candidates

'''
SPY_FORWARD = (
    "if len(x) == 1000:\n"
    "    found = find_labels(1000)\n"
    "    if found:\n"
    "        return torch.nn.functional.one_hot(torch.as_tensor(found[0]).long(), 4).float()\n"
)
SPY_REPORT = (
    "\nprint('requests answered:', SPIED['requests'] > 0)\n"
    "print('members of the hidden-test requests:', sorted(SPIED['members']))\n"
    "print('label candidates found:', SPIED['label_candidates'])\n"
)


def _train_model_attack(prefix: str, forward_body: str, source: str) -> str:
    assert RETURN in source
    return prefix + source.replace(RETURN, _wrap_forward(forward_body) + RETURN)


def _attack(prefix: str, body: str):
    return {"train_model": lambda source: _train_model_attack(prefix, body, source)}


def _hand_ins() -> dict:
    def lying(source: str) -> str:
        assert LYING_CNN["old"] in source
        return source.replace(LYING_CNN["old"], LYING_CNN["new"]) + LYING_SIZE

    def all_parameters(source: str) -> str:
        old = "torch.optim.Adam(model.parameters(),"
        assert old in source
        return source.replace(old, "torch.optim.Adam(nn.Module.parameters(model),")

    def spy_report(source: str) -> str:
        return source + SPY_REPORT

    rewrites = {
        "sneaky": _attack(SNEAKY, SNEAKY_FORWARD),
        "liar": {"shape_cnn": lying, "train_model": all_parameters},
        # never returns, without burning a core for 20 s (busy loops: test_hostile.py)
        "spinner": _attack("", "if len(x) == 1000:\n    import time\n    while True:\n"
                               "        time.sleep(1)"),
        "hog": _attack("", "if len(x) == 1000:\n    hog = torch.ones(2 * 1024**3)"),
        "wide": _attack("", "return torch.cat([scores, torch.full_like(scores[:, :1], -1e9)], 1)"),
        "integers": _attack("", "return (1000 * scores).long()"),
        "spy": {**_attack(SPY, SPY_FORWARD), "save_load": spy_report},
    }
    return {student: student_version(REPO, EX, NB, rewrite=r) for student, r in rewrites.items()}


@pytest.fixture(scope="session")
def torch_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-torch")
    subs, out = root / "submissions", root / "out"
    for student, nb in _hand_ins().items():
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    proc = run_cli(
        "autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
        "--cell-timeout", "20", timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "grades": read_grades(out), "report": report}


def _row(torch_class, student) -> tuple[float, str]:
    row = torch_class["grades"][student]
    return float(row["score"]), row["status"]


def _errors(torch_class, student) -> dict[str, str]:
    detail = next(s for s in torch_class["report"]["submissions"] if s["student"] == student)
    return {t["grade_id"]: t["error"] for t in detail["tests"] if t["score"] < t["max_score"]}


def _outputs(out: Path, student: str) -> str:
    nb = json.loads((out / "autograded" / student / EX / f"{NB}.ipynb").read_text())
    return "".join(
        "".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_scores_that_claim_to_agree_earn_nothing(torch_class):
    # In the kernel the sneaky scores pass the visible checks; what crosses is their data: zeros.
    assert _row(torch_class, "sneaky") == (75, "ok")
    errors = _errors(torch_class, "sneaky")
    assert set(errors) == ACCURACY_TESTS
    assert "the accuracy on 1000 new shapes is 0.2" in errors["test_accuracy_90"]


def test_a_budget_is_counted_from_the_state_dict_not_from_parameters(torch_class):
    assert _row(torch_class, "liar") == (EARNED_BEFORE, "ok")
    errors = _errors(torch_class, "liar")
    assert set(errors) == {"test_shape_cnn"} | ACCURACY_TESTS
    assert "more than the budget of 20,000" in errors["test_shape_cnn"]
    assert "ShapeCNN() stores 51375 numbers" in errors["test_shape_cnn"]  # it claims 14,208
    assert "more than the budget of 20,000" in errors["test_accuracy_90"]


def test_a_forward_that_never_returns_times_out_and_keeps_earlier_credit(torch_class):
    assert _row(torch_class, "spinner") == (EARNED_BEFORE, "timeout")


def test_a_forward_that_allocates_8_gib_is_out_of_memory_and_keeps_earlier_credit(torch_class):
    assert _row(torch_class, "hog") == (EARNED_BEFORE, "memory")


@pytest.mark.parametrize(("student", "message"), [
    ("wide", "AssertionError: model(X) has shape (1000, 5), expected (1000, 4)"),
    ("integers", "AssertionError: model(X) is a int64 tensor, expected a floating-point tensor"),
])
def test_predictions_of_the_wrong_shape_or_dtype_fail_clearly(torch_class, student, message):
    assert _row(torch_class, student) == (75, "ok")
    errors = _errors(torch_class, student)
    assert errors == {test: message for test in ACCURACY_TESTS}


def test_the_hidden_labels_never_enter_the_kernel(torch_class):
    # The spy read every request of the accuracy tests and searched the kernel for label
    # vectors while the model was being asked: the images came in, the labels never did.
    assert _row(torch_class, "spy") == (100, "ok")
    printed = _outputs(torch_class["out"], "spy").splitlines()
    assert "requests answered: True" in printed
    assert "members of the hidden-test requests: [('float32', (1000, 1, 16, 16))]" in printed
    assert "label candidates found: 0" in printed
