"""ex03_layers answer cells for the similarity tests: independent solutions and planted copies.

Every style below is a complete, correct solution written independently of the others (checked
against ``i2dl.layers`` in test_similarity.py). The planted copies each take a different original,
so that no original is present in enough hand-ins to count as boilerplate.
"""

from __future__ import annotations

# Explicit loops over samples and entries.
LOOPS = {
    "affine_forward": '''
def affine_forward(x, w, b):
    n = x.shape[0]
    rows = []
    for i in range(n):
        rows.append(x[i].ravel())
    flat = np.array(rows)
    out = np.zeros((n, w.shape[1]))
    for i in range(n):
        out[i] = flat[i] @ w + b
    return out, (x, w, b)
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    x, w, b = cache
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(b.shape)
    for i in range(x.shape[0]):
        row = x[i].ravel()
        dx[i] = (w @ dout[i]).reshape(x[i].shape)
        dw += np.outer(row, dout[i])
        db += dout[i]
    return dx, dw, db
''',
    "relu": '''
def relu_forward(x):
    flat = x.ravel()
    out = np.empty(flat.shape)
    for i, v in enumerate(flat):
        out[i] = v if v > 0 else 0.0
    return out.reshape(x.shape), x.copy()


def relu_backward(dout, cache):
    grad = np.zeros(dout.size)
    for i, (g, v) in enumerate(zip(dout.ravel(), cache.ravel())):
        if v > 0:
            grad[i] = g
    return grad.reshape(dout.shape)
''',
    "sigmoid": '''
import math


def sigmoid_forward(x):
    out = np.empty(x.shape)
    for idx in np.ndindex(x.shape):
        v = x[idx]
        if v >= 0:
            out[idx] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[idx] = e / (1.0 + e)
    return out, out


def sigmoid_backward(dout, cache):
    dx = np.empty(dout.shape)
    for idx in np.ndindex(dout.shape):
        s = cache[idx]
        dx[idx] = dout[idx] * s * (1 - s)
    return dx
''',
    "tanh": '''
import math


def tanh_forward(x):
    out = np.array([math.tanh(v) for v in x.ravel()]).reshape(x.shape)
    return out, out


def tanh_backward(dout, cache):
    values = [g * (1 - t * t) for g, t in zip(dout.ravel(), cache.ravel())]
    return np.array(values).reshape(dout.shape)
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    out = np.empty(x.shape)
    for idx in np.ndindex(x.shape):
        out[idx] = x[idx] if x[idx] > 0 else negative_slope * x[idx]
    return out, (x.copy(), negative_slope)


def leaky_relu_backward(dout, cache):
    x, slope = cache
    dx = np.empty(dout.shape)
    for idx in np.ndindex(dout.shape):
        dx[idx] = dout[idx] if x[idx] > 0 else slope * dout[idx]
    return dx
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    hidden, first = affine_forward(x, w, b)
    activated, second = relu_forward(hidden)
    return activated, [first, second]


def affine_relu_backward(dout, cache):
    first, second = cache
    return affine_backward(relu_backward(dout, second), first)
''',
}

# Small helper functions, masks as float arrays, dictionaries as caches.
HELPERS = {
    "affine_forward": '''
def _as_matrix(x):
    return x.reshape(len(x), -1)


def affine_forward(x, w, b):
    out = np.matmul(_as_matrix(x), w)
    out += b
    return out, {"x": x, "w": w}
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    dx = np.matmul(dout, w.T).reshape(x.shape)
    dw = np.matmul(_as_matrix(x).T, dout)
    return dx, dw, dout.sum(axis=0)
''',
    "relu": '''
def _positive(x):
    return (x > 0).astype(np.float64)


def relu_forward(x):
    mask = _positive(x)
    return x * mask, mask


def relu_backward(dout, cache):
    return dout * cache
''',
    "sigmoid": '''
def sigmoid_forward(x):
    out = np.exp(-np.logaddexp(0.0, -x))
    return out, {"out": out}


def sigmoid_backward(dout, cache):
    s = cache["out"]
    return dout * s * (1 - s)
''',
    "tanh": '''
def tanh_forward(x):
    out = np.tanh(x)
    return out, {"out": out}


def tanh_backward(dout, cache):
    return dout * (1 - np.square(cache["out"]))
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    slope = np.full(x.shape, negative_slope)
    slope[x > 0] = 1.0
    return slope * x, {"slope": slope}


def leaky_relu_backward(dout, cache):
    return cache["slope"] * dout
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    z, cache_affine = affine_forward(x, w, b)
    a, cache_relu = relu_forward(z)
    return a, {"affine": cache_affine, "relu": cache_relu}


def affine_relu_backward(dout, cache):
    dz = relu_backward(dout, cache["relu"])
    return affine_backward(dz, cache["affine"])
''',
}

# tensordot and einsum, clip and heaviside, closed forms without np.tanh.
TENSORDOT = {
    "affine_forward": '''
def affine_forward(x, w, b):
    weights = w.reshape(*x.shape[1:], w.shape[1])
    out = np.tensordot(x, weights, axes=x.ndim - 1) + b
    return out, (x, w, b)
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    x, w, b = cache
    weights = w.reshape(*x.shape[1:], w.shape[1])
    dx = np.tensordot(dout, np.moveaxis(weights, -1, 0), axes=1)
    dw = np.tensordot(x, dout, axes=([0], [0])).reshape(w.shape)
    db = np.einsum("nm->m", dout)
    return dx, dw, db
''',
    "relu": '''
def relu_forward(x):
    return np.clip(x, 0.0, None), x


def relu_backward(dout, cache):
    return dout * np.heaviside(cache, 0.0)
''',
    "sigmoid": '''
def sigmoid_forward(x):
    out = np.exp(np.minimum(x, 0.0)) / (1.0 + np.exp(-np.abs(x)))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache - dout * cache ** 2
''',
    "tanh": '''
def tanh_forward(x):
    e = np.exp(-2.0 * np.abs(x))
    out = np.sign(x) * (1.0 - e) / (1.0 + e)
    return out, out


def tanh_backward(dout, cache):
    return dout - dout * cache ** 2
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    out = np.maximum(x, 0.0) + negative_slope * np.minimum(x, 0.0)
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, a = cache
    return dout * np.where(x > 0, 1.0, a)
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    caches = {}
    out, caches["affine"] = affine_forward(x, w, b)
    out, caches["relu"] = relu_forward(out)
    return out, caches


def affine_relu_backward(dout, cache):
    grad = relu_backward(dout, cache["relu"])
    return affine_backward(grad, cache["affine"])
''',
}

# A namespace object as the cache, dot products, boolean masks written into copies.
NAMESPACE = {
    "affine_forward": '''
from types import SimpleNamespace


def affine_forward(x, w, b):
    x2d = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    out = x2d.dot(w)
    out = out + b
    return out, SimpleNamespace(x=x, x2d=x2d, w=w)
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    db = dout.sum(axis=0)
    dw = cache.x2d.T.dot(dout)
    dx = dout.dot(cache.w.T).reshape(cache.x.shape)
    return dx, dw, db
''',
    "relu": '''
def relu_forward(x):
    keep = x > 0
    return np.where(keep, x, 0.0), keep


def relu_backward(dout, cache):
    return np.where(cache, dout, 0.0)
''',
    "sigmoid": '''
def sigmoid_forward(x):
    t = np.exp(-np.abs(x))
    s = 1.0 / (1.0 + t)
    out = np.where(x < 0, 1.0 - s, s)
    return out, SimpleNamespace(s=out)


def sigmoid_backward(dout, cache):
    s = cache.s
    return dout * (s - s * s)
''',
    "tanh": '''
def tanh_forward(x):
    out = np.tanh(x)
    return out, SimpleNamespace(t=out)


def tanh_backward(dout, cache):
    return dout * (1.0 + cache.t) * (1.0 - cache.t)
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    out = x.copy()
    neg = out <= 0
    out[neg] = out[neg] * negative_slope
    return out, SimpleNamespace(neg=neg, slope=negative_slope)


def leaky_relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache.neg] *= cache.slope
    return dx
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    pre, fc = affine_forward(x, w, b)
    post, act = relu_forward(pre)
    return post, SimpleNamespace(fc=fc, act=act)


def affine_relu_backward(dout, cache):
    dpre = relu_backward(dout, cache.act)
    return affine_backward(dpre, cache.fc)
''',
}


# ---------------------------------------------------------------------------------------------
# Planted copies


# LOOPS with every name the student chose renamed.
RENAMED = {
    "affine_forward": '''
def affine_forward(inputs, weights, bias):
    count = inputs.shape[0]
    vectors = []
    for k in range(count):
        vectors.append(inputs[k].ravel())
    mat = np.array(vectors)
    result = np.zeros((count, weights.shape[1]))
    for k in range(count):
        result[k] = mat[k] @ weights + bias
    return result, (inputs, weights, bias)
''',
    "affine_backward": '''
def affine_backward(upstream, stored):
    inputs, weights, bias = stored
    d_in = np.zeros(inputs.shape)
    d_weights = np.zeros(weights.shape)
    d_bias = np.zeros(bias.shape)
    for k in range(inputs.shape[0]):
        vec = inputs[k].ravel()
        d_in[k] = (weights @ upstream[k]).reshape(inputs[k].shape)
        d_weights += np.outer(vec, upstream[k])
        d_bias += upstream[k]
    return d_in, d_weights, d_bias
''',
    "relu": '''
def relu_forward(z):
    values = z.ravel()
    res = np.empty(values.shape)
    for j, val in enumerate(values):
        res[j] = val if val > 0 else 0.0
    return res.reshape(z.shape), z.copy()


def relu_backward(upstream, stored):
    g_out = np.zeros(upstream.size)
    for j, (up, val) in enumerate(zip(upstream.ravel(), stored.ravel())):
        if val > 0:
            g_out[j] = up
    return g_out.reshape(upstream.shape)
''',
    "sigmoid": '''
import math


def sigmoid_forward(z):
    res = np.empty(z.shape)
    for pos in np.ndindex(z.shape):
        val = z[pos]
        if val >= 0:
            res[pos] = 1.0 / (1.0 + math.exp(-val))
        else:
            ex = math.exp(val)
            res[pos] = ex / (1.0 + ex)
    return res, res


def sigmoid_backward(upstream, stored):
    g = np.empty(upstream.shape)
    for pos in np.ndindex(upstream.shape):
        sig = stored[pos]
        g[pos] = upstream[pos] * sig * (1 - sig)
    return g
''',
    "tanh": '''
import math


def tanh_forward(z):
    res = np.array([math.tanh(val) for val in z.ravel()]).reshape(z.shape)
    return res, res


def tanh_backward(upstream, stored):
    vals = [up * (1 - th * th) for up, th in zip(upstream.ravel(), stored.ravel())]
    return np.array(vals).reshape(upstream.shape)
''',
    "leaky_relu": '''
def leaky_relu_forward(z, negative_slope=0.01):
    res = np.empty(z.shape)
    for pos in np.ndindex(z.shape):
        res[pos] = z[pos] if z[pos] > 0 else negative_slope * z[pos]
    return res, (z.copy(), negative_slope)


def leaky_relu_backward(upstream, stored):
    z, alpha = stored
    g = np.empty(upstream.shape)
    for pos in np.ndindex(upstream.shape):
        g[pos] = upstream[pos] if z[pos] > 0 else alpha * upstream[pos]
    return g
''',
    "affine_relu": '''
def affine_relu_forward(inputs, weights, bias):
    h, c1 = affine_forward(inputs, weights, bias)
    act, c2 = relu_forward(h)
    return act, [c1, c2]


def affine_relu_backward(upstream, stored):
    c1, c2 = stored
    return affine_backward(relu_backward(upstream, c2), c1)
''',
}

# HELPERS reformatted: line breaks, parentheses, quotes, spacing, trailing commas.
REFORMATTED = {
    "affine_forward": """
def _as_matrix( x ):
    return (x.reshape(
        len(x),
        -1,
    ))
def affine_forward(x,w,b):
    out = np.matmul(
        _as_matrix(x), w
    )
    out += (b)
    return (out, {'x': x, 'w': w})
""",
    "affine_backward": """
def affine_backward(dout,
                    cache):
    x, w = (cache['x'],
            cache['w'])
    dx = np.matmul(dout, w.T).reshape(
        x.shape)
    dw = np.matmul(_as_matrix(x).T,
                   dout)
    return (dx, dw, dout.sum(axis = 0),)
""",
    "relu": """
def _positive(x): return (x > 0).astype(np.float64)
def relu_forward(x):
    mask = _positive(x); return (x * mask, mask)
def relu_backward(dout, cache): return (dout * cache)
""",
    "sigmoid": """
def sigmoid_forward(x):
    out = np.exp(- np.logaddexp(0., - x))
    return (out,
            {'out': out})
def sigmoid_backward(dout, cache):
    s = cache['out']
    return (dout * s) * (1 - s)
""",
    "tanh": """
def tanh_forward(x):
    out = np.tanh(
        x)
    return out, {'out': out}
def tanh_backward(dout, cache):
    return dout*(1-np.square(cache['out']))
""",
    "leaky_relu": """
def leaky_relu_forward(x, negative_slope = 0.01):
    slope = np.full(x.shape,
                    negative_slope)
    slope[x > 0] = 1.
    return (slope * x,
            {'slope': slope})
def leaky_relu_backward(dout, cache):
    return (cache['slope'] * dout)
""",
    "affine_relu": """
def affine_relu_forward(x, w, b):
    z, cache_affine = affine_forward(x,
                                     w,
                                     b)
    a, cache_relu = relu_forward(z)
    return (a, {'affine': cache_affine, 'relu': cache_relu})
def affine_relu_backward(dout, cache):
    dz = relu_backward(dout, cache['relu'])
    return affine_backward(dz, cache['affine'])
""",
}

def functions_reversed(source: str) -> str:
    """The cell's top-level functions (and imports) in reverse order."""
    parts = source.strip().split("\n\n\n")
    return "\n" + "\n\n\n".join(reversed(parts)) + "\n"


def with_comments(source: str) -> str:
    """A docstring and a comment in every function, a comment after every return."""
    lines = []
    for line in source.split("\n"):
        if line.startswith("def "):
            name = line[4 : line.index("(")]
            lines += [line, f'    """{name}: my implementation, see the lecture."""',
                      "    # step by step, following the formulas from the lecture"]
        elif line.lstrip().startswith("return"):
            lines.append(line + "  # what the caller needs")
        else:
            lines.append(line)
    return "\n".join(lines)


# TENSORDOT with the functions in another order: backward before forward, and the two affine
# functions swapped between their cells.
REORDERED = {
    "affine_forward": TENSORDOT["affine_backward"],
    "affine_backward": TENSORDOT["affine_forward"],
    **{key: functions_reversed(TENSORDOT[key])
       for key in ("relu", "sigmoid", "tanh", "leaky_relu", "affine_relu")},
}

# NAMESPACE with comments and docstrings added to every function.
COMMENTED = {key: with_comments(source) for key, source in NAMESPACE.items()}

# DICT_CACHES (tests/exercises/test_ex03_layers.py) with one function rewritten: sigmoid.
ONE_CHANGED_SIGMOID = '''
def sigmoid_forward(x):
    out = 0.5 * (1.0 + np.tanh(x / 2.0))
    return out, {"s": out}


def sigmoid_backward(dout, cache):
    return dout * cache["s"] * (1.0 - cache["s"])
'''

# TUPLE_CACHES (tests/exercises/test_ex03_layers.py) with every disguise at once: names
# renamed, reformatted, functions reordered, comments added.
DISGUISED = {
    "affine_forward": '''
def affine_forward(inp, W, bias):
    # flatten every sample, then the affine map
    batch = inp.shape[0]
    return (inp.reshape(batch, int(np.prod(inp.shape[1:]))) @ W
            + bias), (inp, W, bias)
''',
    "affine_backward": '''
def affine_backward(grad_out, saved):
    """Backward pass of the affine layer."""
    inp, W, _unused = saved
    grad_in = (grad_out @ W.T).reshape(*inp.shape)  # back to the input's shape
    grad_W = inp.reshape(len(inp), -1).T @ grad_out
    return (grad_in, grad_W,
            grad_out.sum(0))
''',
    "relu": '''
def relu_backward(grad_out, saved):
    return np.where(saved > 0, grad_out, 0.0)   # pass the gradient where the input was positive


def relu_forward(inp):
    result = np.maximum(0, inp)
    return result, result
''',
    "sigmoid": '''
def sigmoid_backward(grad_out, saved):
    # s * (1 - s)
    return grad_out * saved * (1.0 - saved)


def sigmoid_forward(inp):
    """Stable: written with tanh."""
    result = 0.5 * (1.0 + np.tanh(0.5 * inp))
    return result, result
''',
    "tanh": '''
def tanh_backward(grad_out, saved):
    return grad_out * (1.0 - saved * saved)


def tanh_forward(inp):
    result = np.tanh(inp)   # numpy's tanh is stable
    return result, result
''',
    "leaky_relu": '''
def leaky_relu_backward(grad_out, saved):
    inp, alpha = saved
    factor = np.ones_like(inp)
    factor[inp <= 0] = alpha   # slope on the negative side
    return factor * grad_out


def leaky_relu_forward(inp, negative_slope=0.01):
    return (np.maximum(inp, negative_slope * inp),
            (inp, negative_slope))
''',
    "affine_relu": '''
def affine_relu_backward(grad_out, saved):
    grad_hidden = relu_backward(grad_out, saved[1])
    return affine_backward(grad_hidden, saved[0])


def affine_relu_forward(inp, W, bias):
    stored = []
    hidden, c = affine_forward(inp, W, bias)
    stored.append(c)
    result, c = relu_forward(hidden)
    stored.append(c)
    return result, stored
''',
}
