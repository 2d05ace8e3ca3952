"""i2dl: the helper library of the i2dl course.

Reference layers, losses, gradient checks and testing helpers in numpy (float64), plus data,
training and plotting utilities the lectures and exercises build on.
"""

__version__ = "0.1.0"
