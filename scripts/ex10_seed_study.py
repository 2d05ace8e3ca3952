"""Seed study for ex10_rnn_lstm: test MSE of the reference LSTM and vanilla RNN over many seeds.

Runs the solution notebook's own code (setup, ``SequenceRegressor``, ``train_regressor``,
``predict_sequences``) with the training cell's recipe, changing the seed of the data, of the
initial weights and of the shuffling together, and measures the MSE on 2,000 fresh sequences
per seed. The graded thresholds of the notebook (0.05 and 0.01) must sit well above every LSTM
run; the vanilla RNN runs show the chance level (1/6) that the notebook's text claims.

    python scripts/ex10_seed_study.py [--seeds 12] [--cells lstm,rnn]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
import numpy as np

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions/ex10_rnn_lstm/ex10_rnn_lstm.ipynb"
CELLS = ("setup", "sequence_regressor", "train_regressor", "predict_sequences")


def notebook_namespace() -> dict:
    """Execute the notebook's setup and solution cells (markers stripped) in a fresh namespace."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    namespace: dict = {}
    for grade_id in CELLS:
        exec(compile(sources[grade_id], f"<{grade_id}>", "exec"), namespace)  # noqa: S102
    return namespace


def run(namespace: dict, cell: str, seed: int) -> tuple[float, float]:
    """Train one model as the notebook's training cell does; return (test MSE, seconds)."""
    make, seq_len = namespace["make_adding_problem"], namespace["SEQ_LEN"]
    X_train, y_train = make(9600, seq_len, seed=3 * seed)
    X_val, y_val = make(1000, seq_len, seed=3 * seed + 1)
    X_test, y_test = make(2000, seq_len, seed=10_000 + seed)
    namespace["seed_everything"](seed)
    model = namespace["SequenceRegressor"](cell)
    start = time.perf_counter()
    namespace["train_regressor"](model, X_train, y_train, X_val, y_val, seed=seed)
    seconds = time.perf_counter() - start
    prediction = namespace["predict_sequences"](model, X_test)
    return float(np.mean((prediction - y_test[:, 0]) ** 2)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--cells", default="lstm,rnn")
    args = parser.parse_args()
    namespace = notebook_namespace()
    for cell in args.cells.split(","):
        results = []
        for seed in range(args.seeds):
            mse, seconds = run(namespace, cell, seed)
            results.append(mse)
            print(f"{cell:4s} seed {seed:2d}: test MSE {mse:.5f} ({seconds:.1f} s)", flush=True)
        values = np.array(results)
        print(f"{cell:4s} over {args.seeds} seeds: min {values.min():.5f}, "
              f"median {np.median(values):.5f}, max {values.max():.5f}", flush=True)


if __name__ == "__main__":
    main()
