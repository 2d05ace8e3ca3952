"""Functional layers: every ``*_forward`` returns ``(out, cache)`` and every ``*_backward``
takes ``(dout, cache)`` and returns the gradients listed in its docstring. The LSTM step is the
one exception, because it has two outputs: ``lstm_step_forward`` returns ``(h, c, cache)`` and
``lstm_step_backward(dh, dc, cache)`` takes a gradient for each.

All functions work in float64, are vectorised and never modify their arguments.
"""

from i2dl.layers.conv import conv_backward, conv_backward_naive, conv_forward, conv_forward_naive
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
from i2dl.layers.normalization import batchnorm_backward, batchnorm_forward
from i2dl.layers.pooling import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
)
from i2dl.layers.recurrent import (
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from i2dl.layers.regularization import dropout_backward, dropout_forward

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
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward",
    "conv_backward",
    "max_pool_forward",
    "max_pool_backward",
    "avg_pool_forward",
    "avg_pool_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "dropout_forward",
    "dropout_backward",
    "rnn_step_forward",
    "rnn_step_backward",
    "lstm_step_forward",
    "lstm_step_backward",
]
