"""``InteractiveFigure``: ipywidgets controls above a matplotlib figure redrawn on every change.

The lecture demos in ``i2dl.viz.widgets`` are built from it; a new demo is a drawing function
and a dict of controls::

    def draw(fig, scale):
        ax = fig.subplots()
        x = np.linspace(-3, 3, 200)
        ax.plot(x, np.tanh(scale * x))

    InteractiveFigure(draw, {"scale": float_slider("scale", 1.0, 0.1, 5.0)})
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

__all__ = ["InteractiveFigure", "float_slider", "log_slider", "int_slider", "dropdown"]

_DPI = 100
_CONTROL_LAYOUT = {"width": "460px"}
_CONTROL_STYLE = {"description_width": "150px"}


class InteractiveFigure(widgets.VBox):
    """Controls stacked above a figure that is redrawn whenever one of their values changes.

    The figure is a plain ``matplotlib.figure.Figure`` rendered to PNG into an
    ``ipywidgets.Image``. pyplot never sees it, so no figure is left open after an update and
    the demo works with any matplotlib backend. The picture is part of the widget state saved
    with a notebook, and where widgets cannot be shown at all (a static notebook viewer) the
    widget displays as its first PNG instead of as ``VBox(...)``.

    Parameters
    ----------
    draw : callable
        ``draw(fig, **values)`` draws onto ``fig``, which is cleared before each call;
        ``values`` maps every control's name to its current value.
    controls : dict[str, ipywidgets.ValueWidget]
        The controls, by name, in the order they are shown.
    figsize : tuple[float, float]
        Size of the figure in inches (at 100 pixels per inch).

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure as last drawn, e.g. to read the data of its lines.
    controls : dict[str, ipywidgets.ValueWidget]
        The controls; setting ``controls[name].value`` redraws the figure.
    image : ipywidgets.Image
        The rendered figure, the last child of the box.
    """

    def __init__(
        self,
        draw: Callable[..., None],
        controls: dict[str, widgets.ValueWidget],
        figsize: tuple[float, float] = (9.0, 3.5),
    ) -> None:
        image = widgets.Image(format="png")
        super().__init__(children=[*controls.values(), image])
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.controls = dict(controls)
        self.image = image
        self._draw = draw
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, change: dict[str, Any] | None = None) -> None:
        """Draw the figure for the current values and show it; ``change`` is ignored.

        Controls call this through ``observe``, which passes a description of the change.
        """
        self.figure.clear()
        self._draw(self.figure, **self.values())
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=_DPI)
        self.image.value = buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            # Front ends that render widgets prefer the widget view; the others show this PNG.
            bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle


def float_slider(
    description: str, value: float, low: float, high: float, step: float | None = None
) -> widgets.FloatSlider:
    """A slider over ``[low, high]`` that updates once the handle is released."""
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step if step is not None else (high - low) / 100,
        description=description, continuous_update=False,
        layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE,
    )


def log_slider(description: str, value: float, low: float, high: float) -> widgets.FloatLogSlider:
    """A slider over ``[low, high]`` on a logarithmic scale, for step sizes and the like."""
    if not 0 < low < high:
        raise ValueError(f"a log slider needs 0 < low < high, got low={low}, high={high}.")
    if not low <= value <= high:
        raise ValueError(f"value {value} is outside the slider's range [{low}, {high}].")
    return widgets.FloatLogSlider(
        value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.05,
        description=description, readout_format=".2g", continuous_update=False,
        layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE,
    )


def int_slider(
    description: str, value: int, low: int, high: int, step: int = 1
) -> widgets.IntSlider:
    """An integer slider over ``[low, high]`` that updates once the handle is released."""
    return widgets.IntSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=False, layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE,
    )


def dropdown(
    description: str, options: Sequence[str], value: str | None = None
) -> widgets.Dropdown:
    """A drop-down list of ``options``, showing ``value`` (default: the first option)."""
    return widgets.Dropdown(
        options=list(options), value=value if value is not None else options[0],
        description=description, layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE,
    )
