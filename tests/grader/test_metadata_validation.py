"""nbgrader's cell-metadata checks, with the grader's validator cache (grader.course)."""

from __future__ import annotations

import copy

import jsonschema
import nbformat
import nbgrader.nbgraderformat.common as nbgrader_common
import pytest
from nbgrader.nbgraderformat import MetadataValidator

import grader.course  # noqa: F401  (installs the cache)
from tests.grader.conftest import REPO

SOLUTION = REPO.solutions / "ex03_layers" / "ex03_layers.ipynb"


def _graded_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def test_a_valid_notebook_passes_and_bad_metadata_still_fails():
    nb = nbformat.read(SOLUTION, as_version=4)
    MetadataValidator().validate_nb(nb)
    broken = copy.deepcopy(nb)
    _graded_cell(broken).metadata["nbgrader"]["points"] = "ten"
    with pytest.raises(jsonschema.ValidationError, match="'ten'"):
        MetadataValidator().validate_nb(broken)
    # the validator built for the schema is reused, and still rejects what it should
    validator = MetadataValidator()
    validator.validate_nb(nb)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_nb(broken)


def test_the_cache_holds_a_few_schemas_not_one_per_notebook():
    # nbgrader loads a copy of the schema per validator, and makes a few per graded notebook
    nb = nbformat.read(SOLUTION, as_version=4)
    cache = nbgrader_common.jsonschema
    for _ in range(3 * cache.KEEP):
        MetadataValidator().validate_nb(nb)
    assert len(cache._kept) == cache.KEEP
