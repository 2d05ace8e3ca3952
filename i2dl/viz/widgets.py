"""Interactive demos for the lectures, one function per demo.

Each function returns an ``InteractiveFigure`` (an ``ipywidgets.VBox``): its children are the
controls, in the order listed in the docstring, followed by the rendered figure. The figure is
drawn once for the default values when the demo is created, so a static copy exists wherever
widgets do not render. Display a demo by making it the last expression of a notebook cell.

All randomness is seeded, so a demo redraws identically for the same control values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view

from i2dl.gradcheck import numerical_gradient
from i2dl.optim import SGD, Adagrad, Adam, Optimizer, RMSprop
from i2dl.viz.interactive import InteractiveFigure, dropdown, float_slider, int_slider, log_slider

__all__ = [
    "gradient_descent_demo",
    "activation_demo",
    "optimizer_race_demo",
    "init_scale_demo",
    "conv_filter_demo",
    "correlate2d",
    "dropout_demo",
]

# An iterate this far from the origin counts as diverged; later steps would overflow.
_DIVERGED = 1e6


def _descend(
    grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, lr: float, steps: int
) -> np.ndarray:
    """Iterates ``x_0 .. x_T`` of gradient descent, shape (T + 1, d); stops early on divergence."""
    path = [x0]
    for _ in range(steps):
        x = path[-1] - lr * grad(path[-1])
        if not np.all(np.abs(x) < _DIVERGED):
            break
        path.append(x)
    return np.array(path)


def _objective(
    f: Callable[[np.ndarray], float] | None,
    grad: Callable[[np.ndarray], np.ndarray] | None,
    x0: np.ndarray,
) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]:
    """``(f, grad)`` for ``gradient_descent_demo``: the default bowl, or checked user functions."""
    if f is None and grad is not None:
        raise ValueError("grad was given without f; pass f too (or neither for the default).")
    if f is None:
        curvature = np.array([10.0]) if x0.shape == (1,) else np.array([1.0, 10.0])

        def bowl(x: np.ndarray) -> float:
            return 0.5 * float(np.sum(curvature * x**2))

        return bowl, lambda x: curvature * x
    if grad is None:
        objective = f

        def grad(x: np.ndarray) -> np.ndarray:
            # numerical_gradient perturbs its argument in place, so it gets a copy.
            return numerical_gradient(objective, np.array(x, dtype=np.float64))

    if np.ndim(f(x0)) != 0 or np.shape(grad(x0)) != x0.shape:
        raise ValueError(
            f"f(x0) must be a float and grad(x0) must have the shape of x0, {x0.shape}; got "
            f"shapes {np.shape(f(x0))} and {np.shape(grad(x0))}."
        )
    return f, grad


def gradient_descent_demo(
    f: Callable[[np.ndarray], float] | None = None,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
    x0: Sequence[float] | np.ndarray | None = None,
    lr_range: tuple[float, float] = (1e-3, 0.3),
    lr: float = 0.05,
    max_steps: int = 100,
    bounds: tuple[float, float] | None = None,
) -> InteractiveFigure:
    """Gradient descent ``x <- x - lr * grad(x)`` on a 1-D or 2-D function (lecture 2).

    The default is the ill-conditioned bowl ``f(x) = (x_1**2 + 10 x_2**2) / 2`` (``5 x**2`` in
    1-D, when ``x0`` has one entry): a step size below 0.1 crawls along the flat direction,
    one between 0.1 and 0.2 zig-zags across the steep one, and one above 0.2 diverges.

    Controls: ``lr`` (log scale over ``lr_range``) and ``steps`` (1 to ``max_steps``). Left:
    the iterates on the contours of ``f`` (on the curve in 1-D); right: the loss per step.

    Parameters
    ----------
    f : callable, optional
        ``f(x)`` maps a point of shape (d,), d in {1, 2}, to a float.
    grad : callable, optional
        ``grad(x)`` returns the gradient of ``f`` at ``x``, shape (d,). If ``f`` is given
        without it, the gradient is estimated by central differences.
    x0 : array_like, shape (d,)
        Starting point; default ``(-4, 1.5)``.
    lr_range : tuple[float, float]
        Smallest and largest step size on the slider.
    lr : float
        Initial step size.
    max_steps : int
        Largest number of steps on the slider.
    bounds : tuple[float, float], optional
        ``(low, high)`` of the plotted range along every axis. By default a square around the
        end of the run with the initial step size, large enough to hold its start.
    """
    x0 = np.atleast_1d(np.asarray((-4.0, 1.5) if x0 is None else x0, dtype=np.float64))
    if x0.shape not in ((1,), (2,)):
        raise ValueError(f"x0 must have shape (1,) or (2,) (1-D or 2-D demo), got {x0.shape}.")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}.")
    f, grad = _objective(f, grad, x0)
    if bounds is None:
        reference = _descend(grad, x0, lr, max_steps)
        center = reference[-1]
        radius = 1.2 * float(np.max(np.abs(reference - center)))
        if radius == 0:
            radius = 1.0
        low, high = center - radius, center + radius
    else:
        low, high = np.full(x0.shape, bounds[0], float), np.full(x0.shape, bounds[1], float)
    grid = [np.linspace(low[i], high[i], 200 if x0.size == 1 else 60) for i in range(x0.size)]
    # f takes one point at a time, so the background is evaluated once, point by point.
    if x0.size == 1:
        background = np.array([f(np.array([a])) for a in grid[0]])
    else:
        background = np.array([[f(np.array([a, b])) for a in grid[0]] for b in grid[1]])

    def draw(fig: Figure, lr: float, steps: int) -> None:
        path = _descend(grad, x0, lr, steps)
        losses = np.array([f(x) for x in path])
        ax_path, ax_loss = fig.subplots(1, 2)
        if x0.size == 1:
            ax_path.plot(grid[0], background, color="gray")
            ax_path.plot(path[:, 0], losses, "o-", color="C1", ms=3, label="iterates")
            margin = 0.1 * np.ptp(background)
            ax_path.set_xlim(low[0], high[0])
            ax_path.set_ylim(background.min() - margin, background.max() + margin)
            ax_path.set_xlabel("x")
            ax_path.set_ylabel("f(x)")
        else:
            ax_path.contour(grid[0], grid[1], background, levels=20, cmap="Greys", alpha=0.7)
            ax_path.plot(path[:, 0], path[:, 1], "o-", color="C1", ms=3, label="iterates")
            ax_path.set_xlim(low[0], high[0])
            ax_path.set_ylim(low[1], high[1])
            ax_path.set_aspect("equal")
            ax_path.set_xlabel("$x_1$")
            ax_path.set_ylabel("$x_2$")
        diverged = len(path) < steps + 1
        ax_path.set_title(f"lr = {lr:.3g}" + (": diverged" if diverged else ""))
        ax_loss.plot(np.arange(len(losses)), losses, "o-", ms=3)
        if np.all(losses > 0):
            ax_loss.set_yscale("log")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("f(x)")
        ax_loss.set_title(f"loss after {len(path) - 1} steps: {losses[-1]:.3g}")

    controls = {
        "lr": log_slider("step size (lr)", lr, *lr_range),
        "steps": int_slider("steps", min(30, max_steps), 1, max_steps),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 4.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Written with tanh so that large |x| cannot overflow exp.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# name -> function of (x, negative_slope) returning (f(x), f'(x)); f' at a kink as in PyTorch.
_ACTIVATIONS: dict[str, Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]] = {
    "sigmoid": lambda x, _: (_sigmoid(x), _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": lambda x, _: (np.tanh(x), 1 - np.tanh(x) ** 2),
    "ReLU": lambda x, _: (np.maximum(x, 0), (x > 0).astype(float)),
    "leaky ReLU": lambda x, a: (np.where(x > 0, x, a * x), np.where(x > 0, 1.0, a)),
    "ELU": lambda x, _: (np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
                         np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))),
    "SiLU (swish)": lambda x, _: (x * _sigmoid(x),
                                  _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "softplus": lambda x, _: (np.logaddexp(0, x), _sigmoid(x)),
}


def activation_demo() -> InteractiveFigure:
    """An activation function ``f`` and its derivative ``f'`` on [-5, 5] (lecture 3).

    Controls: ``activation`` (sigmoid, tanh, ReLU, leaky ReLU, ELU, SiLU (swish), softplus)
    and ``negative_slope`` (used by leaky ReLU only, disabled otherwise). Where ``f'`` is near
    zero the function saturates and passes almost no gradient back.
    """

    def draw(fig: Figure, activation: str, negative_slope: float) -> None:
        x = np.linspace(-5, 5, 401)
        value, derivative = _ACTIVATIONS[activation](x, negative_slope)
        ax = fig.subplots()
        ax.axhline(0, color="gray", lw=0.8)
        ax.axvline(0, color="gray", lw=0.8)
        ax.plot(x, value, label="f(x)")
        ax.plot(x, derivative, "--", label="f'(x)")
        ax.set_xlabel("x")
        ax.set_title(activation)
        ax.grid(True, alpha=0.3)
        ax.legend()

    controls = {
        "activation": dropdown("activation", list(_ACTIVATIONS)),
        "negative_slope": float_slider("negative_slope", 0.1, 0.0, 0.5, step=0.01),
    }
    slope = controls["negative_slope"]
    slope.disabled = True

    def enable_slope(change: dict) -> None:
        slope.disabled = change["new"] != "leaky ReLU"

    controls["activation"].observe(enable_slope, names="value")
    return InteractiveFigure(draw, controls, figsize=(6.0, 4.0))


def _rotated_quadratic() -> tuple[Callable, Callable]:
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    hessian = rotation @ np.diag([0.2, 10.0]) @ rotation.T
    return (lambda p: 0.5 * p @ hessian @ p), (lambda p: hessian @ p)


def _rosenbrock_value(p: np.ndarray) -> float:
    return 0.1 * (1 - p[0]) ** 2 + (p[1] - p[0] ** 2) ** 2


def _rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    return np.array([-0.2 * (1 - p[0]) - 4 * p[0] * (p[1] - p[0] ** 2), 2 * (p[1] - p[0] ** 2)])


# name -> (f, grad, start, (xlow, xhigh), (ylow, yhigh)). Both surfaces have a largest curvature
# near 10, so one step size per optimiser suits both.
_SURFACES = {
    "elongated quadratic": (*_rotated_quadratic(), (-3.5, -1.0), (-4.0, 4.0), (-3.0, 3.0)),
    "Rosenbrock": (_rosenbrock_value, _rosenbrock_grad, (-1.5, 2.0), (-2.0, 2.0), (-1.0, 3.0)),
}

# name -> (optimiser for a step size, default step size)
_RACERS: dict[str, tuple[Callable[[float], Optimizer], float]] = {
    "SGD": (SGD, 0.15),
    "momentum": (lambda lr: SGD(lr, momentum=0.9), 0.02),
    "Nesterov": (lambda lr: SGD(lr, momentum=0.9, nesterov=True), 0.02),
    "Adagrad": (Adagrad, 0.3),
    "RMSprop": (RMSprop, 0.03),
    "Adam": (Adam, 0.1),
}


def _race(
    optimizer: Optimizer, grad: Callable, start: Sequence[float], steps: int
) -> np.ndarray:
    """Points visited by ``optimizer`` from ``start``, shape (T + 1, 2); stops on divergence."""
    params = {"p": np.array(start, dtype=np.float64)}
    path = [params["p"].copy()]
    for _ in range(steps):
        optimizer.step(params, {"p": grad(params["p"])})
        if not np.all(np.abs(params["p"]) < _DIVERGED):
            break
        path.append(params["p"].copy())
    return np.array(path)


def optimizer_race_demo() -> InteractiveFigure:
    """SGD, momentum, Nesterov, Adagrad, RMSprop and Adam racing to a minimum (lecture 6).

    Every optimiser is the ``i2dl.optim`` class (momentum 0.9 for the two momentum methods)
    started from the same point. Surfaces: an elongated quadratic bowl rotated by 30 degrees
    (curvatures 0.2 and 10) and the Rosenbrock valley ``0.1 (1 - x)**2 + (y - x**2)**2``
    (minimum at (1, 1)), whose curved flat valley is hard for plain SGD.

    Controls: ``surface``, ``steps``, then one step size per optimiser (``lr_SGD``,
    ``lr_momentum``, ``lr_Nesterov``, ``lr_Adagrad``, ``lr_RMSprop``, ``lr_Adam``). Left: the
    paths on the contours; right: the loss per step.
    """

    contours = {}
    for name, (f, _, _, xlim, ylim) in _SURFACES.items():
        xs, ys = np.linspace(*xlim, 100), np.linspace(*ylim, 100)
        # log1p spreads the levels out near the minimum, where the paths end.
        contours[name] = (xs, ys, np.log1p([[f(np.array([x, y])) for x in xs] for y in ys]))

    def draw(fig: Figure, surface: str, steps: int, **lrs: float) -> None:
        f, grad, start, xlim, ylim = _SURFACES[surface]
        ax_path, ax_loss = fig.subplots(1, 2, width_ratios=[1.2, 1])
        ax_path.contour(*contours[surface], levels=25, cmap="Greys", alpha=0.6)
        for color, (name, (make, _)) in enumerate(_RACERS.items()):
            path = _race(make(lrs[f"lr_{name}"]), grad, start, steps)
            label = name + (" (diverged)" if len(path) < steps + 1 else "")
            ax_path.plot(path[:, 0], path[:, 1], ".-", color=f"C{color}", ms=2, lw=1,
                         label=label)
            ax_loss.plot([f(p) for p in path], color=f"C{color}", label=label)
        ax_path.plot(*start, "k*", ms=10)
        ax_path.set_xlim(*xlim)
        ax_path.set_ylim(*ylim)
        ax_path.set_title(surface)
        ax_path.legend(fontsize=8, loc="lower right")
        ax_loss.set_yscale("log")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss")
        ax_loss.grid(True, alpha=0.3)

    controls = {
        "surface": dropdown("surface", list(_SURFACES)),
        "steps": int_slider("steps", 200, 10, 500, step=10),
    }
    for name, (_, lr) in _RACERS.items():
        controls[f"lr_{name}"] = log_slider(f"lr {name}", lr, 1e-3, 1.0)
    return InteractiveFigure(draw, controls, figsize=(11.0, 4.5))


# name -> standard deviation of the weights for a layer with fan_in inputs and fan_out outputs
_INITS: dict[str, Callable[[int, int], float]] = {
    "too small (std 0.01)": lambda fan_in, fan_out: 0.01,
    "Xavier/Glorot": lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)),
    "He/Kaiming": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),
    "too large (std 1)": lambda fan_in, fan_out: 1.0,
}


def _layer_activations(
    activation: str, init: str, n_layers: int, width: int = 256, batch: int = 200, seed: int = 0
) -> list[np.ndarray]:
    """Activations of every layer of a bias-free MLP on standard normal inputs.

    Parameters
    ----------
    activation : {"tanh", "ReLU"}
    init : str
        A key of ``_INITS``: how the weights are drawn (zero-mean normal, that std).
    n_layers : int
        Number of hidden layers, each ``width`` units wide.
    width, batch, seed : int
        Units per layer, number of input samples, random seed.

    Returns
    -------
    list of np.ndarray, each of shape (batch, width)
        The output of hidden layer 1, ..., ``n_layers``.
    """
    rng = np.random.default_rng(seed)
    nonlinearity = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    x = rng.standard_normal((batch, width))
    outputs = []
    for _ in range(n_layers):
        weights = rng.standard_normal((width, width)) * _INITS[init](width, width)
        x = nonlinearity(x @ weights)
        outputs.append(x)
    return outputs


def init_scale_demo() -> InteractiveFigure:
    """Activations per layer of a deep MLP for four weight initialisations (lecture 7).

    The network has ``layers`` bias-free hidden layers of 256 units, fed 200 standard normal
    inputs. Too small weights make the activations vanish layer by layer; too large ones
    saturate tanh (values at +-1, zero gradient) or make ReLU activations explode. Xavier
    suits tanh (the scale shrinks only slowly); ReLU zeroes half its inputs, so with Xavier
    its activations still vanish, while He's factor 2 keeps their scale steady.

    Controls: ``activation`` (tanh, ReLU), ``init`` (too small, Xavier/Glorot, He/Kaiming, too
    large) and ``layers`` (2 to 10). Top: a histogram per layer; bottom: the standard
    deviation of each layer's activations, on a log scale.
    """

    def draw(fig: Figure, activation: str, init: str, layers: int) -> None:
        outputs = _layer_activations(activation, init, layers)
        grid = fig.add_gridspec(2, layers, height_ratios=[1.2, 1])
        for i, values in enumerate(outputs):
            ax = fig.add_subplot(grid[0, i])
            ax.stairs(*np.histogram(values, bins=40), fill=True, color="C0")
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.set_title(f"layer {i + 1}\nstd {values.std():.2g}", fontsize=8)
        ax_std = fig.add_subplot(grid[1, :])
        stds = np.array([values.std() for values in outputs])
        ax_std.plot(np.arange(1, layers + 1), stds, "o-")
        ax_std.set_yscale("log")
        ax_std.set_xlabel("layer")
        ax_std.set_ylabel("std of activations")
        ax_std.set_title(f"{activation}, {init}")
        ax_std.grid(True, alpha=0.3)

    controls = {
        "activation": dropdown("activation", ["tanh", "ReLU"]),
        "init": dropdown("init", list(_INITS), value="Xavier/Glorot"),
        "layers": int_slider("layers", 6, 2, 10),
    }
    return InteractiveFigure(draw, controls, figsize=(11.0, 5.0))


def correlate2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D cross-correlation with zero padding, output the size of the input ("same").

    ``out[i, j] = sum_{k, l} padded[i + k, j + l] * kernel[k, l]``, where ``padded`` is
    ``image`` with ``KH // 2`` rows and ``KW // 2`` columns of zeros on each side: what a
    convolution layer (and ``torch.nn.functional.conv2d``) computes for one channel.

    Parameters
    ----------
    image : np.ndarray, shape (H, W)
    kernel : np.ndarray, shape (KH, KW), KH and KW odd

    Returns
    -------
    np.ndarray of float64, shape (H, W)
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(
            "correlate2d needs a 2-D image and a 2-D kernel with odd sides, got image "
            f"{image.shape} and kernel {kernel.shape}."
        )
    pad_h, pad_w = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(image, ((pad_h, pad_h), (pad_w, pad_w)))
    windows = sliding_window_view(padded, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _kernel(name: str, size: int) -> np.ndarray:
    """The classic kernel ``name``; ``size`` sets the side of the box and Gaussian kernels."""
    if name == "box blur":
        return np.full((size, size), 1.0 / size**2)
    if name == "Gaussian blur":
        offsets = np.arange(size) - size // 2
        profile = np.exp(-(offsets**2) / (2 * ((size - 1) / 4) ** 2))
        kernel = np.outer(profile, profile)
        return kernel / kernel.sum()
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    fixed = {
        "Sobel x": sobel_x,
        "Sobel y": sobel_x.T,
        "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
        "Laplacian (edges)": np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
    }
    return fixed[name]


_KERNELS = ["box blur", "Gaussian blur", "Sobel x", "Sobel y", "sharpen", "Laplacian (edges)"]
_SIZED_KERNELS = ("box blur", "Gaussian blur")
_MAX_KERNEL = 11


def _test_image(size: int = 96) -> np.ndarray:
    """A dark image with a bright square, a grey disc and faint noise, values about [0, 1]."""
    rows, cols = np.mgrid[:size, :size]
    image = np.zeros((size, size))
    image[20:50, 12:42] = 0.9
    image[(rows - 64) ** 2 + (cols - 62) ** 2 < 20**2] = 0.55
    return image + 0.03 * np.random.default_rng(0).standard_normal((size, size))


def conv_filter_demo(image: np.ndarray | None = None) -> InteractiveFigure:
    """A classic kernel applied to an image by cross-correlation (lecture 9).

    Controls: ``kernel`` (box blur, Gaussian blur, Sobel x, Sobel y, sharpen, Laplacian
    (edges)) and ``size`` (odd, 3 to 11; for the two blurs only, disabled otherwise). Shows
    the image, the kernel with its weights and the output of ``correlate2d``. Outputs of
    kernels whose weights sum to zero (edge detectors) are signed: red positive, blue negative.

    Parameters
    ----------
    image : np.ndarray, shape (H, W) or (H, W, 3), optional
        A grey or RGB image (RGB is converted to grey), both sides at least 11 pixels. By
        default a synthetic image with a square and a disc.
    """
    if image is None:
        image = _test_image()
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[2] == 3:
        image = image @ np.array([0.299, 0.587, 0.114])
    if image.ndim != 2 or min(image.shape) < _MAX_KERNEL:
        raise ValueError(
            "image must have shape (H, W) or (H, W, 3) with H, W >= "
            f"{_MAX_KERNEL}, got {np.shape(image)}."
        )

    def draw(fig: Figure, kernel: str, size: int) -> None:
        weights = _kernel(kernel, size)
        output = correlate2d(image, weights)
        ax_image, ax_kernel, ax_output = fig.subplots(1, 3, width_ratios=[1, 0.6, 1])
        ax_image.imshow(image, cmap="gray")
        ax_image.set_title("image")
        limit = np.abs(weights).max()
        ax_kernel.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if weights.shape[0] <= 5:
            for (i, j), weight in np.ndenumerate(weights):
                # Dark cells (large |weight|) need light text.
                color = "white" if abs(weight) > 0.6 * limit else "black"
                ax_kernel.text(
                    j, i, f"{weight:.2g}", ha="center", va="center", fontsize=8, color=color
                )
        ax_kernel.set_title(f"kernel {weights.shape[0]}x{weights.shape[1]}")
        if np.isclose(weights.sum(), 0.0):
            limit = np.abs(output).max()
            ax_output.imshow(output, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax_output.imshow(output, cmap="gray")
        ax_output.set_title(f"output ({kernel})")
        for ax in (ax_image, ax_kernel, ax_output):
            ax.set_xticks([])
            ax.set_yticks([])

    controls = {
        "kernel": dropdown("kernel", _KERNELS),
        "size": int_slider("size", 5, 3, _MAX_KERNEL, step=2),
    }
    size = controls["size"]

    def enable_size(change: dict) -> None:
        size.disabled = change["new"] not in _SIZED_KERNELS

    controls["kernel"].observe(enable_size, names="value")
    return InteractiveFigure(draw, controls, figsize=(10.0, 3.8))


def dropout_demo(n_units: int = 40, n_masks: int = 2000) -> InteractiveFigure:
    """Inverted dropout on one layer's activations (lecture 8).

    Each unit is kept with probability ``1 - p`` and the kept ones are multiplied by
    ``1 / (1 - p)``, so that the expected output equals the input and nothing needs to change
    at test time. Left: the activations before (grey) and after dropout for one mask (dropped
    units marked by crosses). Right: the mean activation, averaged over ``n_masks`` masks,
    without dropout, with dropout but no rescaling (``(1 - p)`` times too small) and with
    inverted dropout.

    Controls: ``p`` (drop probability, 0 to 0.9) and ``mask`` (seed of the mask shown).
    """
    activations = np.random.default_rng(0).uniform(0.2, 1.0, size=n_units)

    def draw(fig: Figure, p: float, mask: int) -> None:
        keep = np.random.default_rng(mask).random(n_units) >= p
        output = activations * keep / (1 - p)
        ax_units, ax_mean = fig.subplots(1, 2, width_ratios=[2, 1])
        units = np.arange(n_units)
        ax_units.bar(units, activations, color="lightgray", label="input")
        ax_units.bar(units, output, width=0.5, color="C0", label="after dropout")
        ax_units.plot(units[~keep], np.zeros((~keep).sum()), "x", color="C3", label="dropped")
        ax_units.set_ylim(0, 1.3 * max(output.max(), activations.max()))
        ax_units.set_xlabel("unit")
        ax_units.set_title(f"p = {p:.2f}: {(~keep).sum()} of {n_units} units dropped")
        ax_units.legend(fontsize=8, loc="upper right")
        masks = np.random.default_rng(1).random((n_masks, n_units)) >= p
        means = [
            activations.mean(),
            (activations * masks).mean(),
            (activations * masks / (1 - p)).mean(),
        ]
        ax_mean.bar(["no dropout", "no rescaling", "inverted"], means, color=["gray", "C3", "C0"])
        ax_mean.axhline(activations.mean(), color="black", lw=0.8, ls="--")
        ax_mean.set_title(f"mean over {n_masks} masks")

    controls = {
        "p": float_slider("drop probability p", 0.5, 0.0, 0.9, step=0.05),
        "mask": int_slider("mask (seed)", 0, 0, 19),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 3.8))
