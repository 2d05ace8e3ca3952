"""ex07_regularization: partial credit, zero stubs, other correct styles, classic mistakes.

One autograde run grades every hand-in below; each assertion is an exact score or the exact set
of tests a hand-in loses.
"""

import pytest

from grader.sample import student_version
from tests.exercises.conftest import REPO, grade_hand_ins, lost, sub, total

pytestmark = pytest.mark.ex07

EX = NB = "ex07_regularization"
TESTS = {
    "test_dropout_forward": 10, "test_dropout_backward": 10, "test_batchnorm_forward": 10,
    "test_batchnorm_running_stats": 10, "test_batchnorm_backward": 10,
    "test_spatial_batchnorm": 10, "test_l2_penalty": 5, "test_random_flip": 5,
    "test_random_shift": 5, "test_random_brightness": 5, "test_regularization_effect": 20,
}

# Every answer returns zeros of the right shapes (zero running statistics, a zero penalty, a
# model that predicts class 0): no work, no points.
ZERO_STUBS = {
    "dropout_forward": '''
def dropout_forward(x, p, rng, training=True):
    return np.zeros_like(x), np.zeros_like(x)
''',
    "dropout_backward": '''
def dropout_backward(dout, cache):
    return np.zeros_like(dout)
''',
    "batchnorm_forward": '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5):
    return np.zeros_like(x), None, np.zeros_like(running_mean), np.zeros_like(running_var)
''',
    "batchnorm_backward": '''
def batchnorm_backward(dout, cache):
    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
''',
    "spatial_batchnorm": '''
def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                              momentum=0.1, eps=1e-5):
    return np.zeros_like(x), None, np.zeros_like(running_mean), np.zeros_like(running_var)


def spatial_batchnorm_backward(dout, cache):
    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
''',
    "l2_penalty": '''
def l2_penalty(weights, weight_decay):
    return 0.0, {name: np.zeros_like(w) for name, w in weights.items()}
''',
    "random_flip": '''
def random_flip(images, rng, p=0.5):
    return np.zeros_like(images)
''',
    "random_shift": '''
def random_shift(images, rng, max_shift=1):
    return np.zeros_like(images)
''',
    "random_brightness": '''
def random_brightness(images, rng, delta=0.2):
    return np.zeros_like(images)
''',
    "train_mlp": '''
def train_mlp(X, y, config, seed):
    return {"W1": np.zeros((X[0].size, config["hidden_size"]))}


def predict_mlp(model, X):
    return np.zeros(len(X), dtype=np.int64)
''',
    "regularized_config": '''
REGULARIZED_CONFIG = dict(PLAIN_CONFIG)
''',
}

# Boolean masks and dict caches, batch norm backpropagated step by step through its graph,
# spatial statistics taken directly over (0, 2, 3), loops over images and over keys.
STYLE_A = {
    "dropout_forward": '''
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x, {"keep": None, "p": p}
    keep = rng.random(x.shape) < 1.0 - p
    if p >= 1.0:
        return np.zeros_like(x), {"keep": keep, "p": p}
    return np.where(keep, x / (1.0 - p), 0.0), {"keep": keep, "p": p}
''',
    "dropout_backward": '''
def dropout_backward(dout, cache):
    keep, p = cache["keep"], cache["p"]
    if keep is None:
        return dout
    if p >= 1.0:
        return np.zeros_like(dout)
    return np.where(keep, dout / (1.0 - p), 0.0)
''',
    "batchnorm_forward": '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5):
    if not training:
        normalized = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * normalized + beta, None, running_mean, running_var
    mu = np.mean(x, axis=0)
    centered = x - mu
    var = np.mean(centered**2, axis=0)
    std = np.sqrt(var + eps)
    normalized = centered / std
    cache = {"centered": centered, "std": std, "normalized": normalized, "gamma": gamma}
    running_mean = momentum * mu + (1 - momentum) * running_mean
    running_var = momentum * np.var(x, axis=0, ddof=1) + (1 - momentum) * running_var
    return gamma * normalized + beta, cache, running_mean, running_var
''',
    "batchnorm_backward": '''
def batchnorm_backward(dout, cache):
    centered, std = cache["centered"], cache["std"]
    n = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * cache["normalized"], axis=0)
    dnormalized = dout * cache["gamma"]
    dcentered = dnormalized / std
    dstd = -np.sum(dnormalized * centered, axis=0) / std**2
    dvar = 0.5 * dstd / std
    dcentered = dcentered + 2.0 / n * centered * dvar
    dmu = -np.sum(dcentered, axis=0)
    return dcentered + dmu / n, dgamma, dbeta
''',
    "spatial_batchnorm": '''
def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                              momentum=0.1, eps=1e-5):
    g, b = gamma[None, :, None, None], beta[None, :, None, None]
    if not training:
        mean, var = running_mean[None, :, None, None], running_var[None, :, None, None]
        return g * (x - mean) / np.sqrt(var + eps) + b, None, running_mean, running_var
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    normalized = (x - mean) / np.sqrt(var + eps)
    new_mean = (1 - momentum) * running_mean + momentum * mean.ravel()
    new_var = (1 - momentum) * running_var + momentum * var.ravel() * m / (m - 1)
    cache = {"normalized": normalized, "var": var, "eps": eps, "gamma": g, "m": m}
    return g * normalized + b, cache, new_mean, new_var


def spatial_batchnorm_backward(dout, cache):
    normalized, m = cache["normalized"], cache["m"]
    inv_std = 1.0 / np.sqrt(cache["var"] + cache["eps"])
    axes = (0, 2, 3)
    dnormalized = dout * cache["gamma"]
    dx = inv_std / m * (m * dnormalized - dnormalized.sum(axis=axes, keepdims=True)
                        - normalized * (dnormalized * normalized).sum(axis=axes, keepdims=True))
    return dx, (dout * normalized).sum(axis=axes), dout.sum(axis=axes)
''',
    "l2_penalty": '''
def l2_penalty(weights, weight_decay):
    penalty = 0.0
    grads = {}
    for name in weights:
        w = weights[name]
        penalty += weight_decay / 2 * np.vdot(w, w)
        grads[name] = w * weight_decay
    return penalty, grads
''',
    "random_flip": '''
def random_flip(images, rng, p=0.5):
    out = images.copy()
    for i in range(len(images)):
        if rng.random() < p:
            out[i] = images[i, :, :, ::-1]
    return out
''',
    "random_shift": '''
def random_shift(images, rng, max_shift=1):
    n, _, h, w = images.shape
    dy = rng.integers(-max_shift, max_shift + 1, size=n)
    dx = rng.integers(-max_shift, max_shift + 1, size=n)
    out = np.zeros_like(images)
    for i in range(n):
        a, b = dy[i], dx[i]
        out[i, :, max(a, 0):h + min(a, 0), max(b, 0):w + min(b, 0)] = \\
            images[i, :, max(-a, 0):h + min(-a, 0), max(-b, 0):w + min(-b, 0)]
    return out
''',
    "random_brightness": '''
def random_brightness(images, rng, delta=0.2):
    out = np.empty_like(images)
    for i in range(len(images)):
        out[i] = np.clip(images[i] + rng.uniform(-delta, delta), 0.0, 1.0)
    return out
''',
}

# Float masks from rng.binomial and tuple caches, a backward pass that recomputes x_hat, the
# spatial version through np.moveaxis, vectorised augmentation, and a training loop built on
# i2dl's DataLoader (allowed) with the augmentation as its transform.
STYLE_B = {
    "dropout_forward": '''
def dropout_forward(x, p, rng, training=True):
    if not training:
        return np.array(x, copy=True), (None, p, False)
    mask = rng.binomial(1, 1.0 - p, size=x.shape).astype(np.float64)
    if p < 1:
        mask /= 1.0 - p
    return x * mask, (mask, p, True)
''',
    "dropout_backward": '''
def dropout_backward(dout, cache):
    mask, _, training = cache
    return dout * mask if training else dout.copy()
''',
    "batchnorm_forward": '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5):
    if training:
        m = x.shape[0]
        mean = x.mean(0)
        var = ((x - mean) ** 2).mean(0)
        new_mean = running_mean * (1 - momentum) + mean * momentum
        new_var = running_var * (1 - momentum) + var * (m / (m - 1)) * momentum
        cache = (x, mean, var, gamma, eps)
    else:
        mean, var, cache = running_mean, running_var, None
        new_mean, new_var = running_mean.copy(), running_var.copy()
    out = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out, cache, new_mean, new_var
''',
    "batchnorm_backward": '''
def batchnorm_backward(dout, cache):
    x, mean, var, gamma, eps = cache
    m = x.shape[0]
    inv = (var + eps) ** -0.5
    x_hat = (x - mean) * inv
    dx_hat = dout * gamma
    dx = (inv / m) * (m * dx_hat - dx_hat.sum(0) - x_hat * np.sum(dx_hat * x_hat, 0))
    return dx, np.sum(dout * x_hat, 0), dout.sum(0)
''',
    "spatial_batchnorm": '''
def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                              momentum=0.1, eps=1e-5):
    n, c, h, w = x.shape
    flat = np.moveaxis(x, 1, -1).reshape(-1, c)
    out, cache, new_mean, new_var = batchnorm_forward(flat, gamma, beta, running_mean,
                                                      running_var, training=training,
                                                      momentum=momentum, eps=eps)
    return np.moveaxis(out.reshape(n, h, w, c), -1, 1), (cache, x.shape), new_mean, new_var


def spatial_batchnorm_backward(dout, cache):
    inner, (n, c, h, w) = cache
    dx, dgamma, dbeta = batchnorm_backward(np.moveaxis(dout, 1, -1).reshape(-1, c), inner)
    return np.moveaxis(dx.reshape(n, h, w, c), -1, 1), dgamma, dbeta
''',
    "l2_penalty": '''
def l2_penalty(weights, weight_decay):
    penalty = weight_decay / 2 * sum(np.sum(np.square(w)) for w in weights.values())
    return penalty, {name: weight_decay * w for name, w in weights.items()}
''',
    "random_flip": '''
def random_flip(images, rng, p=0.5):
    flip = (rng.random(len(images)) < p).reshape(-1, 1, 1, 1)
    return np.where(flip, np.flip(images, axis=3), images)
''',
    "random_shift": '''
def random_shift(images, rng, max_shift=1):
    n, c, h, w = images.shape
    s = max_shift
    padded = np.pad(images, [(0, 0), (0, 0), (s, s), (s, s)], mode="constant")
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    rows = np.arange(h)[None, :] - dy[:, None] + s
    cols = np.arange(w)[None, :] - dx[:, None] + s
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]
''',
    "random_brightness": '''
def random_brightness(images, rng, delta=0.2):
    offsets = delta * (2.0 * rng.random(len(images)) - 1.0)
    return np.minimum(np.maximum(images + offsets.reshape(-1, 1, 1, 1), 0.0), 1.0)
''',
    "train_mlp": '''
from i2dl.data import DataLoader


def augment(images, rng, config):
    if config["flip"]:
        images = random_flip(images, rng, config["flip"])
    if config["max_shift"]:
        images = random_shift(images, rng, config["max_shift"])
    if config["brightness"]:
        images = random_brightness(images, rng, config["brightness"])
    return images


def scores_of(params, state, X, config, training, rng, caches):
    h, caches["fc1"] = affine_forward(X, params["W1"], params["b1"])
    if config["batchnorm"]:
        h, caches["bn"], state["mean"], state["var"] = batchnorm_forward(
            h, params["gamma"], params["beta"], state["mean"], state["var"], training=training)
    h, caches["relu"] = relu_forward(h)
    if config["dropout"]:
        h, caches["drop"] = dropout_forward(h, config["dropout"], rng, training=training)
    scores, caches["fc2"] = affine_forward(h, params["W2"], params["b2"])
    return scores


def train_mlp(X, y, config, seed):
    rng = np.random.default_rng(seed)
    d, hidden, k = X[0].size, config["hidden_size"], config["num_classes"]
    params = {"W1": rng.normal(0.0, np.sqrt(2.0 / d), (d, hidden)), "b1": np.zeros(hidden),
              "W2": rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, k)), "b2": np.zeros(k)}
    if config["batchnorm"]:
        params.update(gamma=np.ones(hidden), beta=np.zeros(hidden))
    state = {"mean": np.zeros(hidden), "var": np.ones(hidden)}
    loader = DataLoader((X, y), batch_size=config["batch_size"], shuffle=True,
                        seed=int(rng.integers(2**31)),
                        transform=lambda images, r: augment(images, r, config))
    adam = Adam(lr=config["lr"])
    for _ in range(config["num_epochs"]):
        for X_batch, y_batch in loader:
            caches = {}
            scores = scores_of(params, state, X_batch, config, True, rng, caches)
            _, grad = cross_entropy_loss(scores, y_batch)
            _, decay = l2_penalty({"W1": params["W1"], "W2": params["W2"]},
                                  config["weight_decay"])
            grads = {}
            grad, grads["W2"], grads["b2"] = affine_backward(grad, caches["fc2"])
            if "drop" in caches:
                grad = dropout_backward(grad, caches["drop"])
            grad = relu_backward(grad, caches["relu"])
            if "bn" in caches:
                grad, grads["gamma"], grads["beta"] = batchnorm_backward(grad, caches["bn"])
            _, grads["W1"], grads["b1"] = affine_backward(grad, caches["fc1"])
            for name in decay:
                grads[name] = grads[name] + decay[name]
            adam.step(params, grads)
    if config["batchnorm"]:
        h, _ = affine_forward(X, params["W1"], params["b1"])
        _, _, state["mean"], state["var"] = batchnorm_forward(
            h, params["gamma"], params["beta"], state["mean"], state["var"], momentum=1.0)
    return {"params": params, "state": state, "config": dict(config)}


def predict_mlp(model, X):
    scores = scores_of(model["params"], dict(model["state"]), X, model["config"], False, None, {})
    return np.argmax(scores, axis=1)
''',
}

# Classic mistakes: (rewrites of the solution, the tests they must cost and nothing else).
MISTAKES = {
    # Two forward passes wrong in one hand-in, each graded by tests of its own: dropout with
    # CS231n's convention (p as the probability of KEEPING an entry), and the running variance
    # fed with the biased batch variance (the spatial layer reuses the 2-D forward pass, so its
    # running statistics are wrong too)
    "forward_mistakes": ({
        "dropout_forward": [
            ("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape) < p"),
            ("scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0",
             "scale = 1.0 / p if p > 0.0 else 0.0"),
        ],
        "batchnorm_forward": [("momentum * var * m / (m - 1)", "momentum * var")],
    }, {"test_dropout_forward", "test_batchnorm_running_stats", "test_spatial_batchnorm"}),
    # CS231n's habit: update the caller's running statistics in place (and return them)
    "running_stats_in_place": ({"batchnorm_forward": [
        ("    new_running_mean = (1.0 - momentum) * running_mean + momentum * mean\n"
         "    new_running_var = (1.0 - momentum) * running_var + momentum * var * m / (m - 1)",
         "    running_mean *= 1.0 - momentum\n"
         "    running_mean += momentum * mean\n"
         "    running_var *= 1.0 - momentum\n"
         "    running_var += momentum * var * m / (m - 1)\n"
         "    new_running_mean, new_running_var = running_mean, running_var"),
    ]}, {"test_batchnorm_running_stats", "test_spatial_batchnorm"}),
    # backward passes that write into dout; the spatial layer hands batchnorm_backward a
    # reshaped dout, which for grey images (C = 1) is a view of the caller's array, so the
    # spatial backward pass writes into its dout too
    "writes_dout": ({
        "dropout_backward": [("dx = dout * mask", "dout *= mask\n    dx = dout")],
        "batchnorm_backward": [("g = dout * gamma", "dout *= gamma\n    g = dout")],
    }, {"test_dropout_backward", "test_batchnorm_backward", "test_spatial_batchnorm"}),
}


def _replace(code):
    return lambda _source: code


def _chain(changes):
    rewrites = [sub(old, new) for old, new in changes]

    def rewrite(source):
        for change in rewrites:
            source = change(source)
        return source

    return rewrite


def _without_experiment(nb):
    """The hand-in without the ungraded experiment cell (six training runs): a faster grade."""
    nb.cells = [c for c in nb.cells if "experiments = {" not in c.source]
    return nb


def test_partial_zero_other_styles_and_each_mistake_costs_its_tests(tmp_path):
    everything_but_training = [g for g in ZERO_STUBS if g not in ("train_mlp",
                                                                 "regularized_config")]
    hand_ins = {
        "dropout_only": student_version(REPO, EX, NB, ["dropout_forward", "dropout_backward"]),
        "batchnorm_and_penalty": student_version(
            REPO, EX, NB, ["batchnorm_forward", "batchnorm_backward", "spatial_batchnorm",
                           "l2_penalty"]),
        "augmentation_only": student_version(
            REPO, EX, NB, ["random_flip", "random_shift", "random_brightness"]),
        "no_training": student_version(REPO, EX, NB, everything_but_training),
        "zero_stubs": student_version(REPO, EX, NB, [], rewrite={
            cell: _replace(code) for cell, code in ZERO_STUBS.items()}),
        "style_a": _without_experiment(student_version(REPO, EX, NB, rewrite={
            cell: _replace(code) for cell, code in STYLE_A.items()})),
        "style_b": _without_experiment(student_version(REPO, EX, NB, rewrite={
            cell: _replace(code) for cell, code in STYLE_B.items()})),
    }
    for student, (rewrites, _) in MISTAKES.items():
        hand_ins[student] = _without_experiment(student_version(REPO, EX, NB, rewrite={
            cell: _chain(changes) for cell, changes in rewrites.items()}))
    results = grade_hand_ins(tmp_path, {(s, EX, NB): nb for s, nb in hand_ins.items()},
                             exercise=EX)
    tests = {student: results[(student, EX)] for student in hand_ins}
    assert all(set(t) == set(TESTS) for t in tests.values())

    def earned(student):
        return set(TESTS) - set(lost(tests[student]))

    assert earned("dropout_only") == {"test_dropout_forward", "test_dropout_backward"}
    assert total(tests["dropout_only"]) == 20
    assert earned("batchnorm_and_penalty") == {
        "test_batchnorm_forward", "test_batchnorm_running_stats", "test_batchnorm_backward",
        "test_spatial_batchnorm", "test_l2_penalty"}
    assert total(tests["batchnorm_and_penalty"]) == 45
    assert earned("augmentation_only") == {"test_random_flip", "test_random_shift",
                                           "test_random_brightness"}
    assert total(tests["augmentation_only"]) == 15
    assert set(lost(tests["no_training"])) == {"test_regularization_effect"}
    assert total(tests["no_training"]) == 80
    # No work, no points: every test fails for answers that return zeros of the right shapes.
    assert set(lost(tests["zero_stubs"])) == set(TESTS)
    assert total(tests["zero_stubs"]) == 0
    for student in ("style_a", "style_b"):
        assert lost(tests[student]) == {}, (student, lost(tests[student]))
        assert total(tests[student]) == 100
    for student, (_, expected) in MISTAKES.items():
        assert set(lost(tests[student])) == expected, (student, lost(tests[student]))
        assert total(tests[student]) == 100 - sum(TESTS[t] for t in expected)
    errors = {student: lost(tests[student]) for student in MISTAKES}
    assert "p is the probability of DROPPING" in errors["forward_mistakes"]["test_dropout_forward"]
    assert "UNBIASED batch variance" in errors["forward_mistakes"][
        "test_batchnorm_running_stats"]
    assert "changed running_mean or running_var in place" in errors["running_stats_in_place"][
        "test_batchnorm_running_stats"]
    assert errors["writes_dout"]["test_dropout_backward"] == (
        "AssertionError: dropout_backward changed dout in place")
    assert "backward modified dout in place" in errors["writes_dout"]["test_batchnorm_backward"]
    assert errors["writes_dout"]["test_spatial_batchnorm"] == (
        "AssertionError: spatial_batchnorm_backward changed dout in place (C = 1)")
