"""Layer modules: each one wraps a forward/backward pair of :mod:`i2dl.layers`.

Every module follows the same pattern: ``forward`` calls the layer's ``*_forward`` and keeps the
cache, ``backward`` passes the cache to ``*_backward``, writes the parameter gradients into
``grads`` and returns ``dx``. Names, arguments, default initialisation and parameter names follow
the ``torch.nn`` class of the same name, with one exception: ``Linear.params["weight"]`` has shape
``(in_features, out_features)``, the transpose of torch's.

Layers that draw random numbers (initial weights, dropout masks) take a ``seed``: an int, a
``numpy.random.Generator`` or None. Passing one Generator to every layer makes a whole network
reproducible from one seed::

    rng = np.random.default_rng(0)
    model = Sequential(
        Linear(2, 64, seed=rng), ReLU(), Dropout(0.2, seed=rng), Linear(64, 3, seed=rng)
    )
"""

from __future__ import annotations

import math

import numpy as np

from i2dl.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    dropout_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from i2dl.nn.init import Seed, fan_in_and_fan_out, kaiming_uniform
from i2dl.nn.module import Module

__all__ = [
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "Dropout",
    "BatchNorm1d",
    "Conv2d",
    "MaxPool2d",
    "Flatten",
]


def _torch_default_init(
    module: Module, weight_shape: tuple[int, ...], bias_size: int | None, seed: Seed
) -> None:
    """Register ``weight`` (and a ``bias`` unless ``bias_size`` is None) drawn like torch.

    torch's default for Linear and Conv2d is ``kaiming_uniform`` with ``a = sqrt(5)``, which
    works out to ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; the bias is drawn from the same range.
    """
    rng = np.random.default_rng(seed)
    module.add_parameter("weight", kaiming_uniform(weight_shape, a=math.sqrt(5), seed=rng))
    if bias_size is not None:
        bound = 1.0 / math.sqrt(fan_in_and_fan_out(weight_shape)[0])
        module.add_parameter("bias", rng.uniform(-bound, bound, size=bias_size))


class Linear(Module):
    """Fully connected layer ``out = x @ weight + bias``.

    Parameters
    ----------
    in_features : int
        Size D of each input example.
    out_features : int
        Size M of each output example.
    bias : bool
        Whether to add a learned bias.
    seed : int, numpy.random.Generator or None
        Source of the initial values, drawn from ``U(-1/sqrt(D), 1/sqrt(D))`` like torch.

    Shapes: input ``(N, D)``, output ``(N, M)``; ``params["weight"]`` is ``(D, M)``, the
    transpose of ``torch.nn.Linear.weight`` (which is ``(M, D)`` because torch computes
    ``x @ weight.T``); ``params["bias"]`` is ``(M,)``. Unlike ``affine_forward`` the module does
    not flatten images: put a :class:`Flatten` in front, as in PyTorch.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, seed: Seed = None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        weight_shape = (self.in_features, self.out_features)
        _torch_default_init(self, weight_shape, self.out_features if bias else None, seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            advice = (
                "put a Flatten() in front of it"
                if x.ndim > 2
                else "in_features must equal the previous layer's number of outputs"
            )
            raise ValueError(
                f"Linear expects input of shape (N, {self.in_features}), got {x.shape}; {advice}"
            )
        params = self.params
        bias = params.get("bias", np.zeros(self.out_features))
        out, cache = affine_forward(x, params["weight"], bias)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        dx, dw, db = affine_backward(dout, cache)
        self._set_grads(weight=dw)
        if "bias" in self.params:
            self._set_grads(bias=db)
        return dx

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={'bias' in self.params}"
        )


class ReLU(Module):
    """Element-wise ``max(x, 0)``; input and output of any shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = relu_forward(x)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        return relu_backward(dout, cache)


class Sigmoid(Module):
    """Element-wise logistic sigmoid; input and output of any shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = sigmoid_forward(x)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        return sigmoid_backward(dout, cache)


class Tanh(Module):
    """Element-wise hyperbolic tangent; input and output of any shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = tanh_forward(x)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        return tanh_backward(dout, cache)


class LeakyReLU(Module):
    """Element-wise ``x`` for ``x > 0`` and ``negative_slope * x`` otherwise; any shape."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = leaky_relu_forward(x, self.negative_slope)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        return leaky_relu_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Dropout(Module):
    """Inverted dropout in training mode, the identity in eval mode; any shape.

    Parameters
    ----------
    p : float
        Probability of zeroing each entry during training, in [0, 1].
    seed : int, numpy.random.Generator or None
        Source of the masks; the module keeps one generator, so successive batches get new
        masks and the sequence of masks is reproducible.
    """

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the drop probability and must lie in [0, 1], got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.training:
            return self._save_for_backward(None, x)
        out, mask = dropout_forward(x, self.p, self.rng)
        return self._save_for_backward(mask, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        mask, dout = self._saved(dout)
        return dout if mask is None else dropout_backward(dout, mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation of the features of ``(N, C)`` input, like ``torch.nn.BatchNorm1d``.

    Training mode normalises with the batch mean and (biased) variance and updates the running
    statistics in place::

        running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        running_var  = (1 - momentum) * running_var  + momentum * batch_var * N / (N - 1)

    (the running variance uses the unbiased batch variance, as torch does). Eval mode normalises
    with the running statistics instead, so a single example can be processed.

    Parameters
    ----------
    num_features : int
        Number of features C.
    eps : float
        Added to the variance before taking the square root.
    momentum : float
        Weight of the current batch in the running statistics, in [0, 1].

    Shapes: input and output ``(N, C)``; ``params`` ``weight`` (scale, starts at ones) and
    ``bias`` (shift, zeros) of shape ``(C,)``; ``buffers`` ``running_mean`` (zeros) and
    ``running_var`` (ones) of shape ``(C,)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must lie in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.add_parameter("weight", np.ones(self.num_features))
        self.add_parameter("bias", np.zeros(self.num_features))
        self.add_buffer("running_mean", np.zeros(self.num_features))
        self.add_buffer("running_var", np.ones(self.num_features))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d expects input of shape (N, {self.num_features}), got {x.shape}"
            )
        weight, bias = self.params["weight"], self.params["bias"]
        running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
        if not self.training:
            inv_std = 1.0 / np.sqrt(running_var + self.eps)
            x_hat = (x - running_mean) * inv_std
            out = weight * x_hat + bias
            return self._save_for_backward((False, (x_hat, weight * inv_std)), out)
        out, cache = batchnorm_forward(x, weight, bias, self.eps)
        unbiased_var = cache.var * x.shape[0] / (x.shape[0] - 1)
        running_mean[...] = (1 - self.momentum) * running_mean + self.momentum * cache.mean
        running_var[...] = (1 - self.momentum) * running_var + self.momentum * unbiased_var
        return self._save_for_backward((True, cache), out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (batch_statistics, cache), dout = self._saved(dout)
        if batch_statistics:
            dx, dweight, dbias = batchnorm_backward(dout, cache)
        else:
            # With fixed statistics the layer is a per-feature affine map of x.
            x_hat, scale = cache
            dx, dweight, dbias = dout * scale, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        self._set_grads(weight=dweight, bias=dbias)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Conv2d(Module):
    """2-D convolution (cross-correlation) over ``(N, C, H, W)`` input, like ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    out_channels : int
        Output channels F (one filter each).
    kernel_size : int or tuple (KH, KW)
        Filter height and width.
    stride : int
        Step between neighbouring receptive fields.
    padding : int
        Zeros added on each side of both spatial axes.
    bias : bool
        Whether to add a learned bias per output channel.
    seed : int, numpy.random.Generator or None
        Source of the initial values, drawn from ``U(-1/sqrt(C*KH*KW), 1/sqrt(C*KH*KW))`` like
        torch.

    Shapes: input ``(N, C, H, W)``, output ``(N, F, H_out, W_out)`` with
    ``H_out = (H + 2 * padding - KH) // stride + 1`` (likewise ``W_out``); ``params`` ``weight``
    ``(F, C, KH, KW)`` and ``bias`` ``(F,)``, the same as torch's.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        *,
        seed: Seed = None,
    ) -> None:
        super().__init__()
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = tuple(int(side) for side in kernel_size)
        self.stride, self.padding = int(stride), int(padding)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        _torch_default_init(self, shape, self.out_channels if bias else None, seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        params = self.params
        bias = params.get("bias", np.zeros(self.out_channels))
        out, cache = conv_forward(x, params["weight"], bias, self.stride, self.padding)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        dx, dw, db = conv_backward(dout, cache)
        self._set_grads(weight=dw)
        if "bias" in self.params:
            self._set_grads(bias=db)
        return dx

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={(self.stride, self.stride)}"
        )
        if self.padding:
            text += f", padding={(self.padding, self.padding)}"
        if "bias" not in self.params:
            text += ", bias=False"
        return text


class MaxPool2d(Module):
    """Max pooling over square windows of ``(N, C, H, W)`` input, like ``torch.nn.MaxPool2d``.

    Parameters
    ----------
    kernel_size : int
        Side of the square window.
    stride : int or None
        Step between windows; None (the default) means ``kernel_size``, i.e. windows that do
        not overlap.

    Shapes: input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)`` with
    ``H_out = (H - kernel_size) // stride + 1`` (likewise ``W_out``).
    """

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = self.kernel_size if stride is None else int(stride)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        out, cache = max_pool_forward(x, self.kernel_size, self.stride)
        return self._save_for_backward(cache, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._saved(dout)
        return max_pool_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Reshape ``(N, d_1, ..., d_k)`` input to ``(N, d_1 * ... * d_k)``, like ``nn.Flatten()``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 2:
            raise ValueError(
                f"Flatten expects input of shape (N, d_1, ..., d_k) with k >= 1, got {x.shape}"
            )
        return self._save_for_backward(x.shape, x.reshape(x.shape[0], -1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        input_shape, dout = self._saved(dout)
        return dout.reshape(input_shape)
