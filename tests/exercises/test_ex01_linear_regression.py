"""ex01_linear_regression: partial credit, other correct styles, each mistake costs its test."""

import pytest

from tests.exercises.conftest import grade_class, lost

pytestmark = pytest.mark.ex01

EX = NB = "ex01_linear_regression"

# hstack, predict through the design matrix, sum / size, the gradient split into w and b, the
# normal equations with np.linalg.solve, a preallocated history, np.vander, a comprehension.
OTHER_STYLE = {
    "add_bias_column": '''
def add_bias_column(X):
    return np.hstack([X, np.ones((len(X), 1))])
''',
    "predict": '''
def predict(X, theta):
    return add_bias_column(X) @ theta
''',
    "mse": '''
def mse(y_hat, y):
    if y_hat.shape != y.shape:
        raise ValueError(f"shapes differ: {y_hat.shape} and {y.shape}")
    return np.sum((y_hat - y) ** 2) / y.size
''',
    "mse_gradient": '''
def mse_gradient(X, y, theta):
    residual = X @ theta[:-1] + theta[-1] - y
    return np.concatenate([2.0 * X.T @ residual, [2.0 * residual.sum()]]) / len(y)
''',
    "fit_closed_form": '''
def fit_closed_form(X, y):
    A = add_bias_column(X)
    return np.linalg.solve(A.T @ A, A.T @ y)
''',
    "gradient_descent": '''
def gradient_descent(X, y, lr, num_steps, theta0):
    theta = theta0.copy()
    loss_history = np.empty(num_steps + 1)
    loss_history[0] = mse(predict(X, theta), y)
    for step in range(1, num_steps + 1):
        theta -= lr * mse_gradient(X, y, theta)  # in place, but on our own copy
        loss_history[step] = mse(predict(X, theta), y)
    return theta, loss_history
''',
    "polynomial_features": '''
def polynomial_features(x, degree):
    return np.vander(x, degree + 1, increasing=True)[:, 1:]
''',
    "select_degree": '''
def select_degree(x_train, y_train, x_val, y_val, max_degree):
    def val_error(p):
        theta = fit_closed_form(polynomial_features(x_train, p), y_train)
        return mse(predict(polynomial_features(x_val, p), theta), y_val)

    errors = np.array([val_error(p) for p in range(1, max_degree + 1)])
    return int(np.argmin(errors) + 1), errors
''',
}

# Classic mistakes, each with the tests it must cost (and nothing else).
MISTAKES = {
    "gradient_without_2": ({"mse_gradient": [("2.0 / X.shape[0]", "1.0 / X.shape[0]")]},
                           {"test_mse_gradient"}),
    "no_shape_check": ({"mse": [("if np.shape(y_hat) != np.shape(y):", "if False:")]},
                       {"test_mse"}),
    "updates_theta0": ({"gradient_descent": [
        ("theta = np.array(theta0, dtype=np.float64)", "theta = theta0"),
        ("theta = theta - lr * mse_gradient(X, y, theta)",
         "theta -= lr * mse_gradient(X, y, theta)"),
    ]}, {"test_gradient_descent"}),
    "powers_from_zero": ({"polynomial_features": [("np.arange(1, degree + 1)",
                                                   "np.arange(degree + 1)")]},
                         {"test_polynomial_features"}),
}

PARTIAL = {
    # add_bias_column (5) + predict (10) + mse (10) + mse_gradient (15) + polynomial_features (10);
    # both gradient-descent tests need gradient_descent, select_degree needs the fit
    "gradients": (["add_bias_column", "predict", "mse", "mse_gradient", "polynomial_features"], 50),
    # add_bias_column (5) + predict (10) + mse (10) + fit_closed_form (15) + polynomial_features
    # (10) + select_degree (10); no gradient, so no gradient descent
    "closed_form": (["add_bias_column", "predict", "mse", "fit_closed_form", "polynomial_features",
                     "select_degree"], 60),
}


def test_partial_credit_other_styles_and_classic_mistakes(tmp_path):
    results = grade_class(tmp_path, EX, NB, OTHER_STYLE, MISTAKES, PARTIAL)
    assert lost(results[("updates_theta0", EX)])["test_gradient_descent"] == (
        "AssertionError: gradient_descent changed theta0 in place")
