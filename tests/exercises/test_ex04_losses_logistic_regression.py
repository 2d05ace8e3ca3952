"""ex04_losses_logistic_regression: partial credit, other styles, each mistake costs its test."""

import pytest

from tests.exercises.conftest import grade_class, lost, run_hidden_region, seeded

pytestmark = pytest.mark.ex04

EX = NB = "ex04_losses_logistic_regression"

# np.where for the sign, np.square, logaddexp for BCE and the sigmoid, a log-sum-exp without
# keepdims, a gradient built by subtracting one in place from a fresh array, the hinge with the
# correct class masked out, predict through predict_proba, a training loop with np.dot.
OTHER_STYLE = {
    "l1_loss": '''
def l1_loss(y_hat, y):
    d = y_hat - y
    sign = np.where(d > 0, 1.0, np.where(d < 0, -1.0, 0.0))
    return float(np.abs(d).sum() / d.size), sign / d.size
''',
    "mse_loss": '''
def mse_loss(y_hat, y):
    d = y_hat - y
    return float(np.square(d).mean()), 2 * d / np.size(d)
''',
    "bce_with_logits_loss": '''
def bce_with_logits_loss(z, y):
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    p = np.exp(-np.logaddexp(0.0, -z))
    return float(loss), (p - y) / np.size(z)
''',
    "cross_entropy_loss": '''
def cross_entropy_loss(scores, y):
    n = len(y)
    m = scores.max(axis=1)
    lse = m + np.log(np.sum(np.exp(scores - m[:, None]), axis=1))
    loss = np.mean(lse - scores[np.arange(n), y])
    grad = np.exp(scores - lse[:, None])
    grad[np.arange(n), y] -= 1.0
    return float(loss), grad / n
''',
    "hinge_loss": '''
def hinge_loss(scores, y):
    n = scores.shape[0]
    correct = scores[np.arange(n), y]
    margins = np.maximum(0.0, scores - correct[:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    active = (margins > 0).astype(float)
    active[np.arange(n), y] = -active.sum(axis=1)
    return float(margins.sum() / n), active / n
''',
    "logreg_predict": '''
def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def predict_proba(X, w, b):
    return sigmoid(np.dot(X, w) + b)


def predict(X, w, b):
    return (predict_proba(X, w, b) > 0.5).astype(int)
''',
    "train_logistic_regression": '''
def train_logistic_regression(X, y, lr=0.5, num_steps=300, seed=0):
    generator = np.random.default_rng(seed)
    weights = 0.01 * generator.standard_normal(X.shape[1])
    bias = 0.0
    history = []
    for step in range(num_steps):
        loss, dz = bce_with_logits_loss(np.dot(X, weights) + bias, y * 1.0)
        history.append(loss)
        weights = weights - lr * np.dot(dz, X)
        bias -= lr * np.sum(dz)
    return weights, bias, history
''',
    "feature_map": '''
def feature_map(X):
    return np.hstack([X, (X[:, 0] * X[:, 1])[:, None]])
''',
}

# Classic mistakes, each with the tests it must cost (and nothing else).
MISTAKES = {
    "l1_gradient_as_sum": ({"l1_loss": [("np.sign(diff) / diff.size", "np.sign(diff)")]},
                           {"test_l1_loss"}),
    "writes_y_hat": ({"mse_loss": [("diff = y_hat - y", "diff = y_hat\n    diff -= y")]},
                     {"test_mse_loss"}),
    "no_max_shift": ({"cross_entropy_loss": [
        ("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")]},
        {"test_cross_entropy_stable"}),
    "hinge_counts_correct_class": ({"hinge_loss": [("& ~is_correct", "")]},
                                   {"test_hinge_loss"}),
    "textbook_sigmoid": ({"logreg_predict": [("return 0.5 * (1.0 + np.tanh(0.5 * z))",
                                              "return 1.0 / (1.0 + np.exp(-z))")]},
                         {"test_predict_proba_stable"}),
}

PARTIAL = {
    # L1 (10) + MSE (10) + BCE and its stability (10 + 5) + cross-entropy and its stability
    # (10 + 5); no hinge, no classifier
    "losses": (["l1_loss", "mse_loss", "bce_with_logits_loss", "cross_entropy_loss"], 50),
    # BCE (15) + predict and its stability (5 + 5) + training, which calls the student's BCE (15)
    # + feature map (5) + XOR accuracy (10); no regression losses, cross-entropy or hinge
    "classifier": (["bce_with_logits_loss", "logreg_predict", "train_logistic_regression",
                    "feature_map"], 55),
}


def test_partial_credit_other_styles_and_classic_mistakes(tmp_path):
    results = grade_class(tmp_path, EX, NB, OTHER_STYLE, MISTAKES, PARTIAL)
    assert lost(results[("writes_y_hat", EX)])["test_mse_loss"] == (
        "AssertionError: mse_loss modified its inputs in place")
    assert lost(results[("textbook_sigmoid", EX)])["test_predict_proba_stable"].startswith(
        "FloatingPointError: overflow")


def test_cross_entropy_stable_accepts_every_correct_rounding():
    # The hidden check draws scores of size up to 1000. Their log-sum-exp is rounded to a unit of
    # about 1.1e-13, so a correct solution that computes softmax as exp(scores - lse), like the
    # other style above, can differ from the reference by about that much in a gradient entry
    # close to 0 or -1/N. An absolute tolerance of 1e-14 failed it on seeds 105, 253, 431, 507
    # and 512 of these (0.67 % of grading runs); the tolerance now grows with the scale.
    for seed in range(600):
        run_hidden_region(EX, "test_cross_entropy_stable", seeded(seed),
                          OTHER_STYLE["cross_entropy_loss"])
    without_shift = OTHER_STYLE["cross_entropy_loss"].replace(
        "m = scores.max(axis=1)", "m = np.zeros(len(scores))")
    with pytest.raises(FloatingPointError, match="overflow"):
        run_hidden_region(EX, "test_cross_entropy_stable", seeded(0), without_shift)
