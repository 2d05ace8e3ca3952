"""Seed study for ex09_pytorch: accuracy of the trained ShapeCNN on fresh shapes, over seeds.

Runs the solution notebook's own code (setup, data, ``make_loaders``, ``ShapeCNN``,
``train_model``) as its training cell does, with the seed of the initial weights and of the
shuffling set to 0, 1, ...; the data set is the notebook's (seed 0). Each trained model is
measured as the hidden tests measure it: on 1000 freshly drawn shapes, three times per seed.
The graded thresholds (0.90 and 0.96) must sit below every run with a margin.
``--alternative`` uses instead the other correct design of tests/exercises/test_ex09_pytorch.py
(another architecture, SGD with Nesterov momentum), which must pass as well.

    python scripts/ex09_seed_study.py [--seeds 12] [--alternative]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions/ex09_pytorch/ex09_pytorch.ipynb"
CELLS = ("setup", "data", "make_loaders", "shape_cnn", "train_model")


def notebook_namespace(alternative: bool) -> dict:
    """Execute the notebook's setup, data and solution cells in a fresh namespace."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, str(ROOT))
    from grader.sample import strip_solution_markers

    replaced: dict[str, str] = {}
    if alternative:
        from tests.exercises.test_ex09_pytorch import ALTERNATIVE

        replaced = ALTERNATIVE
    nb = nbformat.read(NOTEBOOK, as_version=4)
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    namespace: dict = {}
    for grade_id in CELLS:
        source = replaced.get(grade_id, strip_solution_markers(sources[grade_id]))
        source = source.replace("plt.show()", "plt.close('all')")
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)  # noqa: S102
    return namespace


def run(namespace: dict, seed: int, repeats: int = 3) -> tuple[list[float], float]:
    """Train with ``seed`` as the training cell does; accuracies on fresh shapes, seconds."""
    torch, make_shapes = namespace["torch"], namespace["make_shapes"]
    loaders = namespace["make_loaders"](
        namespace["X_train"], namespace["y_train"], namespace["X_val"], namespace["y_val"],
        batch_size=64, seed=seed,
    )
    start = time.perf_counter()
    model, _ = namespace["train_model"](*loaders, seed=seed)
    seconds = time.perf_counter() - start
    assert namespace["model_size"](model) <= namespace["PARAM_BUDGET"]
    model.eval()
    model.cpu()
    accuracies = []
    for _ in range(repeats):
        X, y = make_shapes(1000, size=16, classes=namespace["CLASSES"], channels=1,
                           seed=np.random.default_rng())
        with torch.no_grad():
            scores = model(torch.as_tensor(X, dtype=torch.float32))
        accuracies.append(float((scores.argmax(dim=1).numpy() == y).mean()))
    return accuracies, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--alternative", action="store_true")
    args = parser.parse_args()
    namespace = notebook_namespace(args.alternative)
    every, times = [], []
    for seed in range(args.seeds):
        accuracies, seconds = run(namespace, seed)
        every += accuracies
        times.append(seconds)
        print(f"seed {seed:2d}: accuracy {' '.join(f'{a:.3f}' for a in accuracies)}, "
              f"trained in {seconds:.1f} s", flush=True)
    name = "alternative" if args.alternative else "reference"
    print(f"{name}: {args.seeds} seeds x 3 fresh test sets of 1000: min {min(every):.3f}, "
          f"median {np.median(every):.3f}; training {min(times):.1f}-{max(times):.1f} s")


if __name__ == "__main__":
    main()
