"""Neural-network modules in numpy: layers with their parameters, containers, initialisers.

``i2dl.nn`` puts a small object layer on top of the functional :mod:`i2dl.layers`, shaped like
``torch.nn`` so that moving to PyTorch later feels familiar::

    rng = np.random.default_rng(0)
    model = Sequential(Linear(2, 64, seed=rng), ReLU(), Linear(64, 3, seed=rng))
    scores = model(X)                           # forward, (N, 3)
    loss, dscores = cross_entropy_loss(scores, y)
    dX = model.backward(dscores)                # fills model.grads
    optimizer.step(model.params, model.grads)   # updates the layers' arrays in place

Modules
-------
module  ``Module`` (the base class: params, grads, train/eval, state_dict) and ``Sequential``
layers  ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``, ``Dropout``, ``BatchNorm1d``,
        ``Conv2d``, ``MaxPool2d``, ``Flatten``
init    Xavier/Glorot and He/Kaiming initialisers
"""

from i2dl.nn import init
from i2dl.nn.layers import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from i2dl.nn.module import Module, Sequential

__all__ = [
    "Module",
    "Sequential",
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
    "init",
]
