"""Where things live, and the nbgrader configuration built from code.

The repository holds the nbgrader *source* (``solutions/``) and *release* (``exercises/``)
directories. Everything nbgrader writes while grading (submitted copies, autograded copies,
feedback, the gradebook) lives in a course working directory outside the repository.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbgrader.api
import nbgrader.dbutil
import nbgrader.nbgraderformat.common
import sqlalchemy
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
)
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import scoped_session, sessionmaker
from traitlets.config import Config

from grader.execute import SandboxedExecute
from grader.sandbox import Limits
from grader.scoring import CapOutputBytes, SaveOutcomeGrades
from i2dl.budgets import CELL_SECONDS, NOTEBOOK_SECONDS

COURSE_ID = "i2dl"
# Student, exercise and notebook names end up in paths and in the gradebook: keep them plain.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# nbgrader creates and migrates the gradebook by running the `alembic` executable from PATH; a
# grader started as `.venv/bin/i2dl-grader` without an activated environment would not find it.
_ENV_BIN = str(Path(sys.executable).parent)
if _ENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _ENV_BIN + os.pathsep + os.environ.get("PATH", "")


# nbgrader's gradebook code trips SQLAlchemy's autoflush warnings on every autograde; they are
# about nbgrader's session handling, not about the grades, and would bury the grade table.
warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")


# nbgrader stamps every new gradebook with the alembic head revision, which it finds by running
# `alembic heads` in a subprocess: about two seconds, for a constant of the installed nbgrader.
# The head is read from nbgrader's migration scripts instead (the revision no other script
# names as its parent), and only if that is ambiguous is alembic asked, once per process.
_ALEMBIC_HEAD: list[str] = []
_ask_alembic = nbgrader.api.get_alembic_version


def _head_from_scripts() -> str | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((Path(nbgrader.dbutil.ALEMBIC_DIR) / "versions").glob("*.py")):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                value = ast.literal_eval(node.value)
                values = value if isinstance(value, (tuple, list)) else [value]
                (revisions if target.id == "revision" else parents).update(
                    v for v in values if isinstance(v, str)
                )
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def alembic_head() -> str:
    if not _ALEMBIC_HEAD:
        _ALEMBIC_HEAD.append(_head_from_scripts() or _ask_alembic())
    return _ALEMBIC_HEAD[0]


def use_alembic_head(head: str) -> None:
    _ALEMBIC_HEAD[:] = [head]


nbgrader.api.get_alembic_version = alembic_head


# nbgrader opens a new Gradebook, with a new SQLAlchemy engine that inspects and creates the
# schema, a dozen times per graded notebook: about 10 ms each. Engines are kept per process and
# database file instead (a file removed and created again gets a new engine); the first opening
# of a database still goes through nbgrader's own code.
_ENGINES: dict[tuple[int, str], tuple[object, tuple[int, int] | None]] = {}
_nbgrader_gradebook_init = nbgrader.api.Gradebook.__init__


def _file_identity(db_url: str) -> tuple[int, int] | None:
    if not db_url.startswith("sqlite:///"):
        return None
    try:
        info = os.stat(db_url[len("sqlite:///") :])
    except OSError:
        return None
    return info.st_dev, info.st_ino


# Gradebooks a worker keeps only until the main process has recorded its results: they need
# no fsync on every commit.
_SCRATCH_DATABASES: set[str] = set()


def mark_scratch_gradebook(db_url: str) -> None:
    _SCRATCH_DATABASES.add(db_url)


def _no_fsync(connection, _record) -> None:
    connection.execute("PRAGMA synchronous=OFF")


def _gradebook_init(self, db_url, course_id="default_course", authenticator=None):
    key = (os.getpid(), db_url)
    kept = _ENGINES.get(key)
    identity = _file_identity(db_url)
    if kept is None or identity is None or kept[1] != identity:
        if kept is not None:
            kept[0].dispose()
        _nbgrader_gradebook_init(self, db_url, course_id, authenticator)
        if db_url in _SCRATCH_DATABASES:
            sqlalchemy.event.listen(self.engine, "connect", _no_fsync)
            self.close()
            self.engine.dispose()  # connections made from now on skip fsync
            self.db = scoped_session(sessionmaker(autoflush=True, bind=self.engine, future=True))
        _ENGINES[key] = (self.engine, _file_identity(db_url))
        return
    self.engine = kept[0]
    self.db = scoped_session(sessionmaker(autoflush=True, bind=self.engine, future=True))
    self.check_course(course_id=course_id)
    self.course_id = course_id
    self.authenticator = authenticator


nbgrader.api.Gradebook.__init__ = _gradebook_init


class _KeptValidators:
    """``jsonschema.validate`` with the validator built once per schema.

    nbgrader checks every cell's metadata with ``jsonschema.validate``, which checks the
    schema itself and builds a validator on each call (about 60 ms per graded notebook).
    Each of nbgrader's metadata validators loads its own copy of the schema, and a few are made
    per graded notebook, so only the most recent ``KEEP`` schemas are kept: a worker that grades
    thousands of hand-ins does not hold on to every copy.
    """

    KEEP = 8

    def __init__(self) -> None:
        self._kept: dict[int, tuple[dict, jsonschema.protocols.Validator]] = {}

    def validate(self, instance, schema) -> None:
        kept = self._kept.get(id(schema))
        if kept is None or kept[0] is not schema:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            self._kept.pop(id(schema), None)
            while len(self._kept) >= self.KEEP:
                del self._kept[next(iter(self._kept))]  # the oldest
            kept = self._kept[id(schema)] = (schema, cls(schema))
        error = jsonschema.exceptions.best_match(kept[1].iter_errors(instance))
        if error is not None:
            raise error


nbgrader.nbgraderformat.common.jsonschema = _KeptValidators()


class GraderError(Exception):
    """A problem the instructor has to fix (bad arguments, missing exercise, broken source)."""


@dataclass(frozen=True)
class Repository:
    """The course repository: ``solutions/`` is nbgrader's source, ``exercises/`` its release."""

    root: Path

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def default_course_dir(self) -> Path:
        return self.root / ".course"

    def exercise_names(self) -> list[str]:
        """Every exercise with a source folder, sorted."""
        if not self.solutions.is_dir():
            raise GraderError(
                f"no solutions/ folder under {self.root}: is this the course repository?"
            )
        return sorted(
            p.name for p in self.solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
        )

    def resolve_exercises(self, names: list[str] | None) -> list[str]:
        """Check the requested exercise names (all exercises when none are given)."""
        known = self.exercise_names()
        if not names:
            return known
        unknown = [n for n in names if n not in known]
        if unknown:
            raise GraderError(
                f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
            )
        return list(names)

    def source_notebooks(self, exercise: str) -> list[Path]:
        return sorted((self.solutions / exercise).glob("*.ipynb"))


def find_repository(start: Path | None = None) -> Repository:
    """Locate the course repository.

    ``I2DL_COURSE_ROOT`` wins; otherwise the current directory or one of its parents that holds
    ``solutions/``; otherwise the checkout this package was installed from (editable install).
    """
    env = os.environ.get("I2DL_COURSE_ROOT")
    if env:
        return Repository(Path(env).resolve())
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "solutions").is_dir() and (candidate / "grader").is_dir():
            return Repository(candidate)
    return Repository(Path(__file__).resolve().parents[1])


def nbgrader_config(
    course_root: Path,
    source: Path,
    release: Path,
    cell_timeout: int = CELL_SECONDS,
    notebook_timeout: int = NOTEBOOK_SECONDS,
    limits: Limits | None = None,
) -> Config:
    """The nbgrader configuration, built in code rather than read from nbgrader_config.py.

    Source and release directories may be absolute: nbgrader joins them onto the course root,
    so an absolute path points it at the repository while its other folders stay in the course
    working directory.
    """
    c = Config()
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.root = str(course_root)
    c.CourseDirectory.source_directory = str(source)
    c.CourseDirectory.release_directory = str(release)
    c.CourseDirectory.db_url = f"sqlite:///{course_root / 'gradebook.db'}"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
    # The kernel runs the student's code: give each cell a bounded time. (nbgrader's Execute
    # already lets a failing cell's error stand and runs the remaining cells.)
    c.Execute.timeout = cell_timeout
    c.SandboxedExecute.notebook_timeout = float(notebook_timeout)
    limits = limits or Limits()
    c.SandboxedExecute.memory_bytes = limits.memory_bytes
    c.SandboxedExecute.processes = limits.processes
    c.SandboxedExecute.file_bytes = limits.file_bytes
    c.SandboxedExecute.open_files = limits.open_files
    c.SandboxedExecute.scratch_bytes = limits.scratch_bytes
    c.Execute.startup_timeout = 120
    # Validate each notebook once after all preprocessors, not after every one of them.
    c.Exporter.optimistic_validation = True
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    # Score on outcomes (errors), not on stderr; cap what a cell may store.
    c.Autograde.autograde_preprocessors = [
        SandboxedExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        CapOutputBytes,
        SaveOutcomeGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    # Restore deleted test cells from the source rather than silently scoring them as absent.
    c.OverwriteCells.add_missing_cells = True
    return c


def make_coursedir(config: Config) -> CourseDirectory:
    return CourseDirectory(config=config)


def quiet_nbgrader(log_file: Path | None = None) -> logging.Logger:
    """nbgrader and traitlets log a great deal: send it to a file (or drop it)."""
    logger = logging.getLogger("i2dl.grader.nbgrader")
    logger.propagate = False
    target = str(log_file.resolve()) if log_file is not None else None
    current = logger.handlers[0] if len(logger.handlers) == 1 else None
    if current is not None and getattr(current, "baseFilename", None) == target:
        return logger  # called once per notebook: keep the open file instead of reopening it
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    else:
        handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger
