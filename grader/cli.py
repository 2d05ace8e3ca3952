"""Command line: ``i2dl-grader {release,validate,autograde,demo}`` (also ``python -m grader``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.course import GraderError, Repository, find_repository
from grader.sandbox import Limits
from i2dl.budgets import CELL_SECONDS, NOTEBOOK_SECONDS


def _course_dir(args: argparse.Namespace, repo: Repository) -> Path:
    return Path(args.course_dir).resolve() if args.course_dir else repo.default_course_dir


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="i2dl-grader",
        description="Release, validate and autograde i2dl exercises (built on nbgrader).",
    )
    parser.add_argument("--course-dir", help="course working directory (default: <repo>/.course)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    p.add_argument("exercises", nargs="*", metavar="EX", help="exercise names (default: all)")
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if exercises/ is out of date"
    )

    grading = argparse.ArgumentParser(add_help=False)
    grading.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="parallel grading workers (default: number of cores)",
    )
    grading.add_argument(
        "--cell-timeout",
        type=_positive,
        default=CELL_SECONDS,
        help=f"seconds one cell may run (default: {CELL_SECONDS})",
    )
    grading.add_argument(
        "--notebook-timeout",
        type=_positive,
        default=NOTEBOOK_SECONDS,
        help=f"seconds a whole notebook may run (default: {NOTEBOOK_SECONDS})",
    )
    grading.add_argument(
        "--memory-limit",
        type=_positive,
        default=4096,
        metavar="MIB",
        help="memory limit of a student kernel in MiB (default: 4096)",
    )
    grading.add_argument(
        "--max-processes",
        type=_positive,
        default=Limits.processes,
        help=f"processes and threads of a student kernel (default: {Limits.processes})",
    )
    grading.add_argument(
        "--max-file-size",
        type=_positive,
        default=Limits.file_bytes // 1024**2,
        metavar="MIB",
        help=f"largest file a kernel may write, MiB (default: {Limits.file_bytes // 1024**2})",
    )
    grading.add_argument(
        "--max-open-files",
        type=_positive,
        default=Limits.open_files,
        help=f"files a kernel may hold open (default: {Limits.open_files})",
    )
    grading.add_argument(
        "--scratch-size",
        type=_positive,
        default=Limits.scratch_bytes // 1024**2,
        metavar="MIB",
        help="size of a kernel's working folder and of its /tmp, MiB each "
        f"(default: {Limits.scratch_bytes // 1024**2})",
    )
    grading.add_argument("--no-progress", action="store_true", help="no progress output")

    p = sub.add_parser(
        "validate",
        parents=[grading],
        help="solutions must score full marks and releases zero, twice",
    )
    p.add_argument("exercises", nargs="*", metavar="EX", help="exercise names (default: all)")

    p = sub.add_parser("autograde", parents=[grading], help="grade a folder of submissions")
    p.add_argument(
        "submissions",
        type=Path,
        help="folder of <student>/<exercise>/<notebook>.ipynb or <student>.zip",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder for grades.csv, report.json, gradebook and feedback",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="regrade every hand-in, even those already graded into OUT",
    )
    p.add_argument(
        "--exercise",
        action="append",
        metavar="EX",
        help="grade only this exercise (repeatable; default: every exercise handed in)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster whose scheduler listens at ADDRESS (e.g. "
        "tcp://10.0.0.5:8786; keep Dask on a trusted network or use tls://); default: this machine",
    )
    p.add_argument(
        "--connect-timeout",
        type=_positive,
        default=10,
        metavar="SECONDS",
        help="with --scheduler: how long to try to reach the scheduler, at the start and after "
        "losing it, before the run stops (default: 10)",
    )
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="let workers without bubblewrap grade (student code then runs without a sandbox)",
    )

    sub.add_parser(
        "demo",
        parents=[grading],
        help="release, grade a small sample class and print the grade table",
    )

    p = sub.add_parser(
        "lab",
        help="JupyterLab with nbgrader's Formgrader on the course folder or a graded class",
    )
    p.add_argument(
        "out",
        nargs="?",
        type=Path,
        metavar="OUT",
        help="an output folder of `autograde --out OUT` to grade by hand in Formgrader "
        "(default: the course working directory)",
    )
    p.add_argument("--port", type=_positive, help="port for JupyterLab (default: Jupyter's)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument(
        "--config-only",
        action="store_true",
        help="write nbgrader_config.py into the folder served (and record the exercises in a "
        "course folder's gradebook) but start nothing",
    )
    p = sub.add_parser(
        "export",
        help="write an LMS import file (Canvas, Moodle or CSV) from OUT's gradebook",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="output folder of `autograde`")
    p.add_argument("--format", required=True, choices=("canvas", "moodle", "csv"))
    p.add_argument("--output", type=Path, metavar="FILE", help="default: OUT/export-FORMAT.csv")
    p.add_argument(
        "--roster",
        type=Path,
        metavar="FILE",
        help="CSV with the column student (folder name) and any of name, email, canvas_id, "
        "sis_id, login, section",
    )
    p.add_argument(
        "--assignment-id",
        action="append",
        metavar="EX=ID",
        help="Canvas assignment id of an exercise (repeatable; default: new assignments)",
    )

    p = sub.add_parser(
        "report",
        help="write OUT/report.html: histograms, pass rates, statuses, timings, similarity",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="output folder of `autograde`")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="J",
        help="similarity (Jaccard index of fingerprints) at which a pair is flagged "
        "(default: 0.4)",
    )
    return parser


def _options(args: argparse.Namespace):
    from grader.autograde import GradingOptions

    return GradingOptions(
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        limits=Limits(
            memory_bytes=args.memory_limit * 1024**2,
            processes=args.max_processes,
            file_bytes=args.max_file_size * 1024**2,
            open_files=args.max_open_files,
            scratch_bytes=args.scratch_size * 1024**2,
        ),
        workers=args.workers,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    repo = find_repository()
    try:
        if args.command == "release":
            from grader.release import release

            names = repo.resolve_exercises(args.exercises)
            stale = release(repo, names, _course_dir(args, repo), check=args.check)
            if args.check:
                if stale:
                    print("out of date (run `i2dl-grader release`):", " ".join(stale))
                    return 1
                print("exercises/ is up to date:", " ".join(names))
            else:
                print(
                    "released:",
                    " ".join(names),
                    f"({len(stale)} changed)" if stale else "(no changes)",
                )
            return 0
        if args.command == "validate":
            from grader.validate import format_checks, validate

            checks = validate(repo, repo.resolve_exercises(args.exercises), _options(args))
            print(format_checks(checks))
            failed = [c for c in checks if c.problem]
            print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed")
            return 1 if failed else 0
        if args.command == "autograde":
            from grader.results import format_table
            from grader.scheduler import autograde

            results = autograde(
                repo,
                args.submissions.resolve(),
                args.out,
                args.exercise,
                _options(args),
                force=args.force,
                scheduler=args.scheduler,
                allow_unsandboxed=args.allow_unsandboxed,
                connect_timeout=args.connect_timeout,
            )
            print(format_table(results))
            print(f"\nwrote {args.out / 'grades.csv'} and {args.out / 'report.json'}")
            return 0
        if args.command == "lab":
            from grader.labconfig import describe, prepare_lab

            plan = prepare_lab(
                repo,
                args.out if args.out is not None else _course_dir(args, repo),
                class_gradebook=args.out is not None,
                port=args.port,
                open_browser=not args.no_browser,
                say=lambda line: print(line, flush=True),
            )
            print(describe(plan), flush=True)
            if args.config_only:
                return 0
            os.chdir(plan.root)
            os.execve(plan.command[0], plan.command, plan.env)
        if args.command == "demo":
            from grader.demo import run_demo

            run_demo(repo, _course_dir(args, repo), _options(args))
            return 0
        if args.command == "export":
            from grader.export import export

            done = export(args.out, args.format, args.output, args.roster, args.assignment_id)
            if done.not_in_roster:
                print(
                    f"i2dl-grader: {len(done.not_in_roster)} hand-in(s) not in the roster, "
                    f"exported under their folder names: {', '.join(done.not_in_roster)}",
                    file=sys.stderr,
                )
            print(f"wrote {done.path} ({done.rows} students)")
            return 0
        if args.command == "report":
            from grader.class_report import write_class_report

            page = write_class_report(repo, args.out, threshold=args.threshold)
            print(f"wrote {page} ({page.stat().st_size / 1024:.0f} KiB)")
            return 0
    except GraderError as exc:
        print(f"i2dl-grader: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"i2dl-grader: error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
