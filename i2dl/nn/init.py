"""Weight initialisers: Xavier/Glorot and He/Kaiming, uniform and normal.

Each initialiser returns a new float64 array of the requested shape; to re-initialise a layer,
write the result into its parameter array (so that optimisers and containers keep seeing the
same object)::

    rng = np.random.default_rng(0)
    layer = Linear(784, 100)
    layer.params["weight"][...] = kaiming_normal(layer.params["weight"].shape, seed=rng)

The variances are chosen so that activations (Xavier: and gradients) keep their scale from layer
to layer:

============================  =========================================================
``xavier_uniform``            ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``
``xavier_normal``             ``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``
``kaiming_uniform``           ``U(-a, a)`` with ``a = gain * sqrt(3 / fan)``
``kaiming_normal``            ``N(0, std**2)`` with ``std = gain / sqrt(fan)``
============================  =========================================================

``fan`` is ``fan_in`` (keeps the forward activations' scale) or ``fan_out`` (keeps the backward
gradients' scale). The formulas, the gains and the fan computation for convolution weights are
those of ``torch.nn.init``, with one difference in orientation: a dense weight here has shape
``(in_features, out_features)`` because :class:`~i2dl.nn.Linear` computes ``x @ w``, whereas
``torch.nn.Linear.weight`` is ``(out_features, in_features)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
]

Seed = int | np.random.Generator | None

_LINEAR_GAIN_NAMES = ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a layer followed by ``nonlinearity``, as ``torch.nn.init``.

    ======================================  ==============================
    ``"linear"``, ``"conv2d"``, ``"sigmoid"``  1
    ``"tanh"``                              5 / 3
    ``"relu"``                              sqrt(2)
    ``"leaky_relu"``                        sqrt(2 / (1 + negative_slope**2))
    ``"selu"``                              3 / 4
    ======================================  ==============================

    Parameters
    ----------
    nonlinearity : str
        Name of the activation function.
    param : float, optional
        ``negative_slope`` for ``"leaky_relu"`` (default 0.01); ignored otherwise.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if nonlinearity in _LINEAR_GAIN_NAMES:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        negative_slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + negative_slope**2))
    if nonlinearity == "selu":
        return 0.75
    known = [*_LINEAR_GAIN_NAMES, "tanh", "relu", "leaky_relu", "selu"]
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of {known}"
    )


def fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """Number of inputs and outputs that each weight connects.

    Parameters
    ----------
    shape : tuple of int
        ``(in_features, out_features)`` for a dense weight (i2dl's orientation), or
        ``(out_channels, in_channels, *kernel_size)`` for a convolution weight (as in torch).

    Returns
    -------
    fan_in, fan_out : int
        Dense: ``in_features`` and ``out_features``. Convolution:
        ``in_channels * prod(kernel_size)`` and ``out_channels * prod(kernel_size)``, because
        every output value sums over a whole kernel of every input channel.

    Raises
    ------
    ValueError
        If ``shape`` has fewer than two axes (a bias has no fan-in and fan-out).
    """
    shape = tuple(int(side) for side in shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan_in_and_fan_out: a weight needs at least two axes, got shape {shape}; "
            "biases are usually initialised to zeros or from the weight's fan-in"
        )
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape: tuple[int, ...], mode: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def xavier_uniform(shape: tuple[int, ...], gain: float = 1.0, seed: Seed = None) -> np.ndarray:
    """Xavier/Glorot uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple of int
        Weight shape, see :func:`fan_in_and_fan_out`.
    gain : float
        Scale factor, see :func:`calculate_gain`.
    seed : int, numpy.random.Generator or None
        An int gives reproducible values; a Generator is used as is, so several calls can share
        one stream; None draws fresh entropy.

    Returns
    -------
    np.ndarray, shape ``shape``, variance ``gain**2 * 2 / (fan_in + fan_out)``
    """
    fan_in, fan_out = fan_in_and_fan_out(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return np.random.default_rng(seed).uniform(-bound, bound, size=shape)


def xavier_normal(shape: tuple[int, ...], gain: float = 1.0, seed: Seed = None) -> np.ndarray:
    """Xavier/Glorot normal: ``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters and return value as for :func:`xavier_uniform`.
    """
    fan_in, fan_out = fan_in_and_fan_out(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return np.random.default_rng(seed).normal(0.0, std, size=shape)


def kaiming_uniform(
    shape: tuple[int, ...],
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Seed = None,
) -> np.ndarray:
    """He/Kaiming uniform: ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)``.

    The defaults (``leaky_relu`` with slope ``a = 0``) give the ReLU gain ``sqrt(2)``.

    Parameters
    ----------
    shape : tuple of int
        Weight shape, see :func:`fan_in_and_fan_out`.
    a : float
        Negative slope of the leaky ReLU that follows (only used with ``"leaky_relu"``).
    mode : {"fan_in", "fan_out"}
        Preserve the variance of the activations (``fan_in``) or of the gradients (``fan_out``).
    nonlinearity : str
        Activation that follows, see :func:`calculate_gain`.
    seed : int, numpy.random.Generator or None
        As for :func:`xavier_uniform`.

    Returns
    -------
    np.ndarray, shape ``shape``, variance ``gain**2 / fan``
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(shape, mode))
    return np.random.default_rng(seed).uniform(-bound, bound, size=shape)


def kaiming_normal(
    shape: tuple[int, ...],
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Seed = None,
) -> np.ndarray:
    """He/Kaiming normal: ``N(0, std**2)`` with ``std = gain / sqrt(fan)``.

    Parameters and return value as for :func:`kaiming_uniform`.
    """
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(_fan(shape, mode))
    return np.random.default_rng(seed).normal(0.0, std, size=shape)


glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
he_uniform = kaiming_uniform
he_normal = kaiming_normal
