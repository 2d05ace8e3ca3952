"""The instructor tool chain: release, validate and autograde exercises on top of nbgrader."""

import sys

# jsonschema (under nbformat) checks the "iri" string format with rfc3987_syntax when that is
# installed, and importing it builds 38 parsers: two seconds at every start of the grader.
# Notebooks have no IRI-formatted fields, so the check is never needed here.
sys.modules.setdefault("rfc3987_syntax", None)
