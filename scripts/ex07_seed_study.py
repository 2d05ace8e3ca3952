"""Seed study for ex07_regularization: how much the reference's regularised MLP beats the plain one.

Runs the solution notebook's own code (setup and answer cells, markers stripped) with the graded
test's protocol: per draw, 1,200 fresh shapes images, ``train_mlp`` on the first 200 with
``PLAIN_CONFIG`` and with ``REGULARIZED_CONFIG`` (same training seed), accuracy of
``predict_mlp`` on the other 1,000; the margin is the regularised minus the plain accuracy.
Prints every draw (and, with ``--draws`` above 1, the margin averaged over the draws of a seed),
then the minimum and median margin; the graded threshold must sit well below the minimum.

    python scripts/ex07_seed_study.py [--seeds 50] [--first 0] [--draws 1]
                                      [--plain '{"lr": 1e-3}'] [--regularized '{"dropout": 0.1}']
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nbformat
import numpy as np

NOTEBOOK = (Path(__file__).resolve().parents[1]
            / "solutions/ex07_regularization/ex07_regularization.ipynb")
CELLS = ("setup", "dropout_forward", "dropout_backward", "batchnorm_forward",
         "batchnorm_backward", "spatial_batchnorm", "l2_penalty", "random_flip", "random_shift",
         "random_brightness", "train_mlp", "plain_config", "regularized_config")
SHAPES = ("circle", "square", "triangle")


def notebook_namespace() -> dict:
    """Execute the notebook's setup and solution cells (markers stripped) in a fresh namespace."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    namespace: dict = {}
    for grade_id in CELLS:
        source = "\n".join(line for line in sources[grade_id].split("\n")
                           if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)  # noqa: S102
    return namespace


def run(namespace: dict, rng: np.random.Generator, plain: dict,
        regularized: dict) -> tuple[float, float, float]:
    """One draw of the graded test: (plain accuracy, regularised accuracy, seconds per run)."""
    X, y = namespace["make_shapes"](1200, size=12, channels=1, classes=SHAPES, seed=rng)
    train_seed = int(rng.integers(2**31))
    accuracies = []
    start = time.perf_counter()
    for config in (plain, regularized):
        model = namespace["train_mlp"](X[:200], y[:200], config, train_seed)
        accuracies.append(float(np.mean(namespace["predict_mlp"](model, X[200:]) == y[200:])))
    return accuracies[0], accuracies[1], (time.perf_counter() - start) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--draws", type=int, default=1, help="draws per seed")
    parser.add_argument("--plain", default="{}", help="JSON overrides of PLAIN_CONFIG")
    parser.add_argument("--regularized", default=None,
                        help="JSON overrides of PLAIN_CONFIG replacing REGULARIZED_CONFIG")
    args = parser.parse_args()
    namespace = notebook_namespace()
    plain = {**namespace["PLAIN_CONFIG"], **json.loads(args.plain)}
    regularized = {**namespace["REGULARIZED_CONFIG"], **json.loads(args.plain)}
    if args.regularized is not None:
        regularized = {**plain, **json.loads(args.regularized)}
    print("plain:", plain)
    print("regularized:", regularized)
    single, averaged = [], []
    for seed in range(args.first, args.first + args.seeds):
        rng = np.random.default_rng(seed)
        draws = [run(namespace, rng, plain, regularized) for _ in range(args.draws)]
        margins = [regularized_acc - plain_acc for plain_acc, regularized_acc, _ in draws]
        single += margins
        averaged.append(float(np.mean(margins)))
        text = "  ".join(f"plain {p:.3f} regularized {r:.3f} ({s:.1f} s/run)" for p, r, s in draws)
        print(f"seed {seed:3d}: {text}  margin {averaged[-1]:+.3f}", flush=True)
    print(f"margin of single draws ({len(single)}): min {min(single):+.3f}, "
          f"median {float(np.median(single)):+.3f}, max {max(single):+.3f}")
    if args.draws > 1:
        print(f"margin averaged over {args.draws} draws ({len(averaged)} seeds): "
              f"min {min(averaged):+.3f}, median {float(np.median(averaged)):+.3f}, "
              f"max {max(averaged):+.3f}")


if __name__ == "__main__":
    main()
