"""Time budgets of a graded notebook, shared by the grader and ``i2dl check``.

When a notebook is graded, each code cell may run for ``CELL_SECONDS`` and the whole notebook
for ``NOTEBOOK_SECONDS``; at the first cell over either budget grading stops, and every test cell
after it scores zero. ``i2dl check`` runs a notebook with the same numbers, so a student sees a
cell that is too slow before handing it in. The grader's defaults (``i2dl-grader autograde
--cell-timeout/--notebook-timeout``) are read from here.
"""

CELL_SECONDS = 60
NOTEBOOK_SECONDS = 600
