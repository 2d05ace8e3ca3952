"""ex09_pytorch: exact partial credit, another correct design, classic mistakes, cheap models.

One autograde run grades the whole class below; the tests read its report. The trained model is
graded on 1000 fresh shapes whose labels stay in the grader (see the hidden regions of
``test_accuracy_90``/``test_accuracy_96``), so a model that predicts a constant or labels
unrelated to the images fails exactly those two tests.
"""

from __future__ import annotations

import json
import os

import pytest

from grader.sample import student_version, write_notebook
from tests.exercises.conftest import ONE_WORKER, run_hidden_region, solution_cells
from tests.grader.conftest import REPO, read_grades, run_cli

pytestmark = pytest.mark.ex09

EX = NB = "ex09_pytorch"
POINTS = {
    "test_softplus_score": 5, "test_softplus_score_grads": 10, "test_autograd_gradients": 10,
    "test_tanh_mse_grad": 10, "test_make_loaders": 10, "test_shape_cnn": 10, "test_predict": 10,
    "test_accuracy_90": 10, "test_accuracy_96": 15, "test_save_load": 10,
}
AUTOGRAD_PART = ["softplus_score", "softplus_score_grads", "autograd_gradients", "tanh_mse_grad"]

# Every answer returns zeros (or loaders, models and files of zeros) of the right shapes.
ZERO_STUBS = {
    "softplus_score": """
def softplus_score(w, X, b):
    return torch.zeros((), dtype=X.dtype)
""",
    "softplus_score_grads": """
def softplus_score_grads(w, X, b):
    return np.zeros_like(w), 0.0
""",
    "autograd_gradients": """
def autograd_gradients(fn, *inputs):
    return tuple(torch.zeros_like(x) for x in inputs)
""",
    "tanh_mse_grad": """
def tanh_mse_grad(W, X, Y):
    return np.zeros_like(W)
""",
    "make_loaders": """
def make_loaders(X_train, y_train, X_val, y_val, batch_size=64, seed=0):
    def zeros(X, y):
        return make_loader(torch.zeros(X.shape), torch.zeros(len(y), dtype=torch.int64),
                           batch_size)
    return zeros(X_train, y_train), zeros(X_val, y_val)
""",
    "shape_cnn": """
class ShapeCNN(nn.Module):
    def forward(self, x):
        return torch.zeros(len(x), 4)
""",
    "predict": """
def predict(model, X):
    return torch.zeros(len(X), dtype=torch.int64)
""",
    "train_model": """
def train_model(train_loader, val_loader, seed=0):
    return ShapeCNN(), None
""",
    "save_load": """
def save_model(model, path):
    torch.save({}, path)


def load_model(path):
    return ShapeCNN()
""",
}

# A correct solution in another style in every cell: another architecture (a 5x5 convolution,
# a fully connected head, functional calls), another optimiser and schedule (SGD with Nesterov
# momentum and a cosine schedule, 8 epochs), loaders built by hand, gradients read from .grad,
# inference_mode, loading through a file object.
ALTERNATIVE = {
    "softplus_score": """
def softplus_score(w, X, b):
    return F.softplus(X @ w + b).mean()
""",
    "softplus_score_grads": """
def softplus_score_grads(w, X, b):
    z = X @ w + b
    sigma = np.exp(-np.logaddexp(0.0, -z))
    return np.einsum("nd,n->d", X, sigma) / len(z), float(np.mean(sigma))
""",
    "autograd_gradients": """
def autograd_gradients(fn, *inputs):
    leaves = [torch.tensor(x.detach().numpy(), requires_grad=True) for x in inputs]
    fn(*leaves).backward()
    return tuple(leaf.grad for leaf in leaves)
""",
    "tanh_mse_grad": """
def tanh_mse_grad(W, X, Y):
    T = np.tanh(X @ W)
    N, K = Y.shape
    return np.einsum("nd,nk->dk", X, (T - Y) * (1 - T * T)) * (2.0 / (N * K))
""",
    "make_loaders": """
from torch.utils.data import DataLoader, TensorDataset


def make_loaders(X_train, y_train, X_val, y_val, batch_size=64, seed=0):
    train = TensorDataset(torch.from_numpy(X_train).float(), torch.from_numpy(y_train).long())
    val = TensorDataset(torch.from_numpy(X_val).float(), torch.from_numpy(y_val).long())
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(val, batch_size=batch_size))
""",
    "shape_cnn": """
class ShapeCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 24, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(24)
        self.conv2 = nn.Conv2d(24, 32, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.hidden = nn.Linear(32 * 4 * 4, 20)
        self.out = nn.Linear(20, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.out(F.relu(self.hidden(x.flatten(1))))
""",
    "predict": """
def predict(model, X):
    model.train(False)
    with torch.inference_mode():
        scores = model(X.to(next(model.parameters()).device))
    return scores.max(dim=1).indices.to("cpu")
""",
    "train_model": """
def train_model(train_loader, val_loader, seed=0):
    seed_everything(seed)
    model = ShapeCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 8)
    trainer = Trainer(8, device=get_device(), progress=False)
    history = trainer.fit(model, train_loader, val_loader, optimizer, nn.CrossEntropyLoss(),
                          scheduler=scheduler, restore_best=True)
    return model, history
""",
    "save_load": """
def save_model(model, path):
    with open(path, "wb") as f:
        torch.save(model.state_dict(), f)


def load_model(path):
    model = ShapeCNN().eval()
    with open(path, "rb") as f:
        model.load_state_dict(torch.load(f, weights_only=True, map_location="cpu"))
    return model
""",
}

# One classic mistake in each of six answers; each must cost exactly its own test.
MISTAKES = {
    # log(1 + exp(z)) overflows for large scores
    "softplus_score": lambda s: s.replace(
        "score = (z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))).mean()",
        "score = torch.log(1 + torch.exp(z)).mean()"),
    # requires_grad switched on for the caller's tensors, gradients accumulate
    "autograd_gradients": lambda s: s.replace(
        "    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]\n"
        "    grads = tuple(torch.autograd.grad(fn(*leaves), leaves))",
        "    for x in inputs:\n"
        "        x.requires_grad_(True)\n"
        "    fn(*inputs).backward()\n"
        "    grads = tuple(x.grad for x in inputs)"),
    # forgot the 1 / (N K) of the mean
    "tanh_mse_grad": lambda s: s.replace("/ T.size", ""),
    # the validation loader shuffles too
    "make_loaders": lambda s: s.replace("shuffle=False", "shuffle=True"),
    # no eval mode: dropout stays on
    "predict": lambda s: s.replace("    model.eval()\n", ""),
    # no eval mode after loading
    "save_load": lambda s: s.replace("    model.eval()\n", ""),
}

# Models that have learnt nothing about the images: they must fail the two accuracy tests only.
CONSTANT = (  # trained, then made to answer "circle" for every image
    "    with torch.no_grad():\n"
    "        model.classifier.weight.zero_()\n"
    "        model.classifier.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))\n"
)
UNTRAINED = (  # labels unrelated to the images: the weights never move (learning rate 0)
    "def train_model(train_loader, val_loader, seed=0):\n"
    "    seed_everything(seed)\n"
    "    model = ShapeCNN()\n"
    "    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)\n"
    "    history = Trainer(1, device=device, progress=False).fit(\n"
    "        model, train_loader, val_loader, optimizer, nn.CrossEntropyLoss())\n"
    "    return model, history\n"
)


def _replace_all(answers: dict[str, str]):
    return {cell: (lambda _source, code=code: code.lstrip("\n")) for cell, code in answers.items()}


def _edit(cell: str, old: str, new: str):
    def rewrite(source: str) -> str:
        assert old in source, f"{cell}: the solution changed, update this test"
        return source.replace(old, new)

    return {cell: rewrite}


def _checked(edits):
    def check(cell, edit):
        def rewrite(source: str) -> str:
            changed = edit(source)
            assert changed != source, f"{cell}: the mistake no longer applies to the solution"
            return changed

        return rewrite

    return {cell: check(cell, edit) for cell, edit in edits.items()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("ex09")
    subs = root / "submissions"
    students = {
        "full": student_version(REPO, EX, NB),
        "blank": student_version(REPO, EX, NB, solved=[]),
        "zeros": student_version(REPO, EX, NB, solved=[], rewrite=_replace_all(ZERO_STUBS)),
        "autograd_only": student_version(REPO, EX, NB, solved=AUTOGRAD_PART),
        "alternative": student_version(REPO, EX, NB, rewrite=_replace_all(ALTERNATIVE)),
        "mistakes": student_version(REPO, EX, NB, rewrite=_checked(MISTAKES)),
        "constant": student_version(REPO, EX, NB, rewrite=_edit(
            "train_model", "    return model, history", CONSTANT + "    return model, history")),
        "untrained": student_version(REPO, EX, NB, rewrite=_replace_all(
            {"train_model": UNTRAINED})),
    }
    for student, nb in students.items():
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    out = root / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
                   *ONE_WORKER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    failed = {  # student -> {grade_id of a test that lost points: its error}
        s["student"]: {t["grade_id"]: t["error"] for t in s["tests"] if t["score"] < t["max_score"]}
        for s in report["submissions"]
    }
    return read_grades(out), failed, report


def _score(graded, student) -> tuple[float, str]:
    row = graded[0][student]
    return float(row["score"]), row["status"]


def test_points_sum_to_100_over_ten_tests(graded):
    detail = next(s for s in graded[2]["submissions"] if s["student"] == "full")
    assert {t["grade_id"]: t["max_score"] for t in detail["tests"]} == POINTS


def test_solution_scores_full_marks(graded):
    assert _score(graded, "full") == (100, "ok")


def test_blank_and_zero_stub_hand_ins_score_nothing(graded):
    assert _score(graded, "blank") == (0, "ok")
    assert _score(graded, "zeros") == (0, "ok")
    # every test fails on what the stubs return, none because a name is missing
    errors = graded[1]["zeros"]
    assert set(errors) == set(POINTS)
    assert not [e for e in errors.values() if "NameError" in e or "NotImplemented" in e], errors


def test_the_autograd_part_alone_earns_its_points(graded):
    expected = sum(POINTS[f"test_{cell}"] for cell in AUTOGRAD_PART)
    assert expected == 35
    assert _score(graded, "autograd_only") == (expected, "ok")


def test_another_architecture_and_optimiser_pass(graded):
    assert _score(graded, "alternative") == (100, "ok"), graded[1]["alternative"]


def test_each_classic_mistake_costs_exactly_its_test(graded):
    lost = {f"test_{cell}" for cell in MISTAKES}
    assert set(graded[1]["mistakes"]) == lost
    assert _score(graded, "mistakes") == (100 - sum(POINTS[t] for t in lost), "ok")


@pytest.mark.parametrize("student", ["constant", "untrained"])
def test_models_that_learnt_nothing_fail_the_accuracy_tests(graded, student):
    errors = graded[1][student]
    assert set(errors) == {"test_accuracy_90", "test_accuracy_96"}
    assert _score(graded, student) == (75, "ok")
    assert "validation accuracy" in errors["test_accuracy_90"]


class _FlatRandom:
    """A numpy Generator whose ``random`` gives one value everywhere: every image is flat."""

    def __init__(self, *args, **kwargs) -> None:
        import numpy as np

        self._rng = np.random.default_rng(0)

    def random(self, size=None):
        import numpy as np

        return np.full(size, 0.25)

    def __getattr__(self, name):
        return getattr(self._rng, name)


def test_the_hidden_loader_test_tells_samples_apart_even_if_random_pixels_coincide():
    # The hidden region of test_make_loaders finds which sample each row of a batch is from its
    # first pixel. Those pixels were random, and two of them coincide in float32 about once in
    # 3,400 hand-ins, which failed a correct make_loaders (it happened in CI). Here every random
    # pixel is the same: the region must still tell the samples apart, and pass the reference.
    from grader.sample import strip_solution_markers

    answer = strip_solution_markers(solution_cells(EX)["make_loaders"])
    # raises AssertionError if it cannot tell the samples apart
    namespace = run_hidden_region(EX, "test_make_loaders", _FlatRandom,
                                  "import torch\nfrom i2dl.training import make_loader", answer)
    assert namespace["_val_rows"] == list(range(namespace["_n_val"]))



def test_the_hidden_save_load_test_saves_in_the_kernels_working_folder(tmp_path, monkeypatch):
    # The hidden region of test_save_load has the student's save_model write a file. It must go
    # to the kernel's working folder, which the grader removes with the kernel whether or not
    # there is a sandbox; a path in /tmp outlived every unsandboxed kernel.
    import tempfile

    import numpy as np

    from grader.sample import strip_solution_markers

    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    cells = solution_cells(EX)
    answers = [strip_solution_markers(cells[cell]) for cell in ("shape_cnn", "save_load")]
    setup = ("import torch\nfrom torch import nn\n"
             "CLASSES = ('circle', 'square', 'triangle', 'cross')\n")
    namespace = run_hidden_region(EX, "test_save_load", np.random.default_rng, setup, *answers,
                                  "model = ShapeCNN()")
    assert not os.path.isabs(namespace["_path"])
    assert [p.name for p in work.iterdir()] == [os.path.basename(namespace["_path"])]
    assert list(temp.iterdir()) == []
