"""Plots and interactive lecture demos.

Static plots (``i2dl.viz.plots``) draw into a matplotlib ``Axes`` and return it. Demos
(``i2dl.viz.widgets``) return an ``InteractiveFigure``, an ipywidgets box of controls above a
figure that is redrawn whenever a control changes (``i2dl.viz.interactive``).
"""

from i2dl.viz.interactive import InteractiveFigure
from i2dl.viz.plots import (
    make_grid,
    plot_decision_boundary,
    plot_filters,
    plot_learning_curves,
    show_image_grid,
)
from i2dl.viz.widgets import (
    activation_demo,
    conv_filter_demo,
    correlate2d,
    dropout_demo,
    gradient_descent_demo,
    init_scale_demo,
    optimizer_race_demo,
)

__all__ = [
    "plot_learning_curves",
    "plot_decision_boundary",
    "make_grid",
    "show_image_grid",
    "plot_filters",
    "InteractiveFigure",
    "gradient_descent_demo",
    "activation_demo",
    "optimizer_race_demo",
    "init_scale_demo",
    "conv_filter_demo",
    "correlate2d",
    "dropout_demo",
]
