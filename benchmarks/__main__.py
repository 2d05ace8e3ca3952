"""``make bench`` / ``python -m benchmarks``: every benchmark, ratios measured side by side."""

from __future__ import annotations

from benchmarks import bench_conv, bench_grader, bench_trainer


def main() -> None:
    print("i2dl-course benchmarks (each ratio against a baseline run in this process)\n")
    bench_conv.fast_vs_torch()
    bench_conv.naive_vs_fast()
    bench_trainer.run()
    bench_grader.run()
    bench_grader.cluster()


if __name__ == "__main__":
    main()
