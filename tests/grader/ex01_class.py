"""ex01_linear_regression hand-ins for the export and report tests (written, not graded, here)."""

from __future__ import annotations

from pathlib import Path

from grader.sample import student_version, write_invalid_json, write_notebook
from tests.grader.conftest import REPO

EX = NB = "ex01_linear_regression"

# The reference solution with every name the student chose renamed, and a comment that tries
# to break out of the report's <pre> block.
RENAMED = {
    "add_bias_column": '''
def add_bias_column(data):
    # </pre><script>alert("copied")</script>
    padded = np.column_stack([data, np.ones(data.shape[0])])
    return padded
''',
    "predict": '''
def predict(data, params):
    outputs = data @ params[:-1] + params[-1]
    return outputs
''',
    "mse": '''
def mse(pred, target):
    if np.shape(pred) != np.shape(target):
        raise ValueError(f"mse: shapes {np.shape(pred)} and {np.shape(target)} differ")
    value = float(np.mean((pred - target) ** 2))
    return value
''',
    "mse_gradient": '''
def mse_gradient(data, target, params):
    design = add_bias_column(data)
    g = 2.0 / data.shape[0] * (design.T @ (design @ params - target))
    return g
''',
    "fit_closed_form": '''
def fit_closed_form(data, target):
    design = add_bias_column(data)
    params, *_ = np.linalg.lstsq(design, target, rcond=None)
    return params
''',
    "gradient_descent": '''
def gradient_descent(data, target, step, steps, start):
    params = np.array(start, dtype=np.float64)
    history = [mse(predict(data, params), target)]
    for _ in range(steps):
        params = params - step * mse_gradient(data, target, params)
        history.append(mse(predict(data, params), target))
    loss_history = np.array(history)
    return params, loss_history
''',
    "polynomial_features": '''
def polynomial_features(values, max_power):
    feats = values[:, None] ** np.arange(1, max_power + 1)
    return feats
''',
    "select_degree": '''
def select_degree(xa, ya, xb, yb, top):
    errs = np.empty(top)
    for p in range(1, top + 1):
        params = fit_closed_form(polynomial_features(xa, p), ya)
        errs[p - 1] = mse(predict(polynomial_features(xb, p), params), yb)
    best = int(np.argmin(errs)) + 1
    return best, errs
''',
}

# Four parts solved in a style of one's own; the rest left as released.
OWN_STYLE = {
    "add_bias_column": '''
def add_bias_column(X):
    ones = np.ones((len(X), 1))
    return np.hstack((X, ones))
''',
    "predict": '''
def predict(X, theta):
    w, b = theta[:-1], theta[-1]
    return np.dot(X, w) + b
''',
    "mse": '''
def mse(y_hat, y):
    y_hat, y = np.asarray(y_hat), np.asarray(y)
    if y_hat.shape != y.shape:
        raise ValueError("y_hat and y differ in shape")
    diff = y_hat - y
    return float((diff * diff).mean())
''',
    "polynomial_features": '''
def polynomial_features(x, degree):
    return np.stack([x**p for p in range(1, degree + 1)], axis=1)
''',
}

# Nothing solved, and predict raises an error whose message is HTML.
SCRIPT_ERROR = {
    "predict": '''
def predict(X, theta):
    raise ValueError("<script>alert(1)</script>")
''',
}


def _version(cells: dict[str, str] | None, solved: list[str] | None):
    rewrite = {key: (lambda _s, code=code: code) for key, code in (cells or {}).items()}
    return student_version(REPO, EX, NB, solved=solved, rewrite=rewrite)


def write_class(subs: Path) -> None:
    """ada: the solution; ben: ada's work renamed; cleo: four parts in her own style; dan:
    nothing, and an error message with HTML in it; eve: a file cut off half-way."""
    path = Path(EX) / f"{NB}.ipynb"
    write_notebook(_version(None, None), subs / "ada" / path)
    write_notebook(_version(RENAMED, []), subs / "ben" / path)
    write_notebook(_version(OWN_STYLE, []), subs / "cleo" / path)
    write_notebook(_version(SCRIPT_ERROR, []), subs / "dan" / path)
    write_invalid_json(subs / "eve" / path, _version(None, None))
