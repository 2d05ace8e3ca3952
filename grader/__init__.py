"""The instructor tool chain: release, validate and autograde exercises on top of nbgrader."""
