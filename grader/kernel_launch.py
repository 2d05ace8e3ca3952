"""The grading kernel's entry point: ipykernel's, without its debugger.

``python -m ipykernel_launcher`` imports debugpy (pydevd) at start-up whether or not a debugger
is ever attached; that is about a quarter of a kernel's start-up CPU, paid once per graded
notebook. A grading kernel is never debugged, so the import is made to fail while ipykernel
loads (ipykernel then runs without a debugger, as it does where debugpy is not installed), and
is allowed again before any cell runs: a notebook that imports debugpy itself still can.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.path and sys.path[0] == "":  # as ipykernel_launcher: not the working folder first
        del sys.path[0]
    blocked = "debugpy" not in sys.modules
    if blocked:
        sys.modules["debugpy"] = None  # type: ignore[assignment]  # "import debugpy" fails
    try:
        from ipykernel import debugger, kernelapp  # noqa: F401  (debugger: loaded while blocked)
    finally:
        if blocked and sys.modules.get("debugpy", 0) is None:
            del sys.modules["debugpy"]
    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
