"""ex05_mlp_and_optimizers: partial credit, other correct styles, each mistake costs its test."""

import pytest

from tests.exercises.conftest import grade_class, lost

pytestmark = pytest.mark.ex05

EX = NB = "ex05_mlp_and_optimizers"

NETWORK = ["two_layer_forward", "two_layer_loss_and_grads"]
UPDATE_RULES = ["sgd_step", "sgd_momentum_step", "nesterov_step", "rmsprop_step", "adam_step"]

# The network written out with numpy instead of the given blocks (dict cache), update rules in
# algebraically equal forms, a training loop with its own shuffling and a table of rules.
OTHER_STYLE = {
    "two_layer_forward": '''
def two_layer_forward(X, params):
    z = X @ params["W1"] + params["b1"]
    a = np.maximum(z, 0.0)
    return a @ params["W2"] + params["b2"], {"X": X, "z": z, "a": a}
''',
    "two_layer_loss_and_grads": '''
def two_layer_loss_and_grads(X, y, params, reg=0.0):
    scores, c = two_layer_forward(X, params)
    n = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    loss += reg / 2 * sum(np.sum(params[k] ** 2) for k in ("W1", "W2"))
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1.0
    dscores /= n
    dz = (dscores @ params["W2"].T) * (c["z"] > 0)
    return float(loss), {
        "W1": c["X"].T @ dz + reg * params["W1"], "b1": dz.sum(axis=0),
        "W2": c["a"].T @ dscores + reg * params["W2"], "b2": dscores.sum(axis=0),
    }
''',
    "sgd_step": '''
def sgd_step(w, dw, lr):
    return np.subtract(w, lr * dw)
''',
    "sgd_momentum_step": '''
def sgd_momentum_step(w, dw, v, lr, momentum=0.9):
    velocity = dw + momentum * v
    return w - lr * velocity, velocity
''',
    "nesterov_step": '''
def nesterov_step(w, dw, v, lr, momentum=0.9):
    velocity = momentum * v + dw
    return w - lr * dw - lr * momentum * velocity, velocity
''',
    "rmsprop_step": '''
def rmsprop_step(w, dw, cache, lr, alpha=0.99, eps=1e-8):
    cache = cache + (1.0 - alpha) * (dw * dw - cache)  # a new array, the caller's is untouched
    return w - lr * dw / (np.sqrt(cache) + eps), cache
''',
    "adam_step": '''
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1.0 - beta1) * dw
    v = beta2 * v + (1.0 - beta2) * dw**2
    correction = np.sqrt(1.0 - beta2**t)
    step_size = lr * correction / (1.0 - beta1**t)
    return w - step_size * m / (np.sqrt(v) + eps * correction), m, v
''',
    "train": '''
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


def train(X, y, hidden_size, optimizer_name, lr, num_epochs, batch_size, seed, reg=0.0):
    rules = {
        "sgd": lambda w, g, s, t: (sgd_step(w, g, lr), s),
        "momentum": lambda w, g, s, t: (lambda r: (r[0], (r[1],)))(
            sgd_momentum_step(w, g, s[0], lr)),
        "nesterov": lambda w, g, s, t: (lambda r: (r[0], (r[1],)))(nesterov_step(w, g, s[0], lr)),
        "rmsprop": lambda w, g, s, t: (lambda r: (r[0], (r[1],)))(rmsprop_step(w, g, s[0], lr)),
        "adam": lambda w, g, s, t: (lambda r: (r[0], r[1:]))(adam_step(w, g, s[0], s[1], t, lr)),
    }
    if optimizer_name not in rules:
        raise ValueError(f"unknown optimizer {optimizer_name!r}; use one of {sorted(rules)}")
    rng = np.random.default_rng(seed)
    params = init_two_layer_params(X.shape[1], hidden_size, int(y.max()) + 1, rng)
    state = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
    history = {"train_loss": [], "train_accuracy": []}
    step = 0
    for epoch in range(num_epochs):
        order = rng.permutation(len(X))
        losses = []
        start = 0
        while start < len(X):
            rows = order[start:start + batch_size]
            start += batch_size
            loss, grads = two_layer_loss_and_grads(X[rows], y[rows], params, reg)
            losses.append(loss)
            step += 1
            for k in params:
                params[k], state[k] = rules[optimizer_name](params[k], grads[k], state[k], step)
        history["train_loss"].append(float(np.mean(losses)))
        predicted = two_layer_forward(X, params)[0].argmax(axis=1)
        history["train_accuracy"].append(float(np.mean(predicted == y)))
    return params, history
''',
}

# Classic mistakes, each with the tests it must cost (and nothing else); mistakes in separate
# update rules, each graded by its own test, share a hand-in.
MISTAKES = {
    "penalty_without_half": ({"two_layer_loss_and_grads": [("0.5 * reg *", "reg *")]},
                             {"test_two_layer_loss"}),
    "gradient_without_reg": ({"two_layer_loss_and_grads": [
        ('"W1": dW1 + reg * W1', '"W1": dW1'), ('"W2": dW2 + reg * W2', '"W2": dW2')]},
        {"test_two_layer_grads"}),
    # One hand-in, three update rules, each wrong in its own way and graded by its own test:
    # the velocity with the learning rate inside (the same steps, but another velocity), eps
    # inside the square root, Adam's moments updated in the caller's arrays.
    "update_rule_mistakes": ({
        "sgd_momentum_step": [("v_new = momentum * v + dw\n    w_new = w - lr * v_new",
                               "v_new = momentum * v + lr * dw\n    w_new = w - v_new")],
        "rmsprop_step": [("(np.sqrt(cache_new) + eps)", "np.sqrt(cache_new + eps)")],
        "adam_step": [("m_new = beta1 * m + (1.0 - beta1) * dw",
                       "m *= beta1\n    m += (1.0 - beta1) * dw\n    m_new = m")],
    }, {"test_sgd_momentum_step", "test_rmsprop_step", "test_adam_step"}),
}

PARTIAL = {
    # forward (10) + loss (10) + gradients (15) + SGD (5) + momentum (10); train needs every rule
    "network_and_momentum": ([*NETWORK, "sgd_step", "sgd_momentum_step"], 50),
    # everything but the training goal, which needs BEST_CONFIG (10)
    "no_best_config": ([*NETWORK, *UPDATE_RULES, "train"], 90),
}


def test_partial_credit_other_styles_and_classic_mistakes(tmp_path):
    results = grade_class(tmp_path, EX, NB, OTHER_STYLE, MISTAKES, PARTIAL)
    assert lost(results[("update_rule_mistakes", EX)])["test_adam_step"] == (
        "AssertionError: adam_step changed w, dw, m or v in place; return new arrays instead")
