"""Functional layers: every ``*_forward`` returns ``(out, cache)`` and every ``*_backward``
takes ``(dout, cache)`` and returns the gradients listed in its docstring.

All functions work in float64, are vectorised and never modify their arguments.
"""

from i2dl.layers.dense import (
    affine_backward,
    affine_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
]
