"""ex06_training_practice: partial credit, other correct styles, each mistake costs its test."""

import pytest

from tests.exercises.conftest import grade_class, lost, total

pytestmark = pytest.mark.ex06

EX = NB = "ex06_training_practice"

# rng.normal and a transposed draw, Python's round for the cuts, rng.shuffle and np.take, an
# enumerate loop for early stopping, np.power, logaddexp.reduce, exponentiating a uniform, and a
# training loop that keeps the best parameters itself.
OTHER_STYLE = {
    "xavier_init": '''
def xavier_init(n_in, n_out, seed=None):
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.0 / (n_in + n_out)), (n_in, n_out))
''',
    "he_init": '''
def he_init(n_in, n_out, seed=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_out, n_in)).T * np.sqrt(2.0 / n_in)
''',
    "split_indices": '''
def split_indices(n, fractions, seed=None):
    order = np.random.default_rng(seed).permutation(n)
    parts, start, cumulative = [], 0, 0.0
    for k, fraction in enumerate(fractions):
        cumulative += fraction
        end = n if k == len(fractions) - 1 else int(round(n * cumulative))
        parts.append(order[start:end])
        start = end
    return parts
''',
    "iterate_minibatches": '''
def iterate_minibatches(X, y, batch_size, shuffle=True, seed=None):
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y))
    if shuffle:
        rng.shuffle(rows)
    start = 0
    while start < len(rows):
        chosen = rows[start:start + batch_size]
        yield np.take(X, chosen, axis=0), np.take(y, chosen)
        start += batch_size
''',
    "should_stop": '''
def should_stop(val_history, patience, min_delta=0.0):
    best, since_best = float("inf"), 0
    for epoch, value in enumerate(val_history):
        improved = value < best - min_delta
        best = value if improved else best
        since_best = 0 if improved else since_best + 1
    return bool(since_best >= patience)
''',
    "lr_schedules": '''
def step_decay(lr0, epoch, step_size, gamma=0.1):
    return lr0 * np.power(gamma, np.floor_divide(epoch, step_size))


def exponential_decay(lr0, epoch, gamma):
    return lr0 * np.power(gamma, epoch)
''',
    "initial_loss": '''
def softmax_cross_entropy(scores, y):
    log_norm = np.logaddexp.reduce(scores, axis=1)
    return float(np.mean(log_norm - np.take_along_axis(scores, y[:, None], axis=1)[:, 0]))


def expected_initial_loss(num_classes):
    return -np.log(1.0 / num_classes)
''',
    "sample_log_uniform": '''
def sample_log_uniform(low, high, size, seed=None):
    return low * (high / low) ** np.random.default_rng(seed).random(size)
''',
    "train_model": '''
def train_model(X_train, y_train, X_val, y_val, config, seed=0):
    rng = np.random.default_rng(seed)
    history = {key: [] for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr")}
    widths = (X_train.shape[1], *config["hidden_sizes"], NUM_CLASSES)
    modules = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layer = Linear(n_in, n_out)
        layer.params["weight"][...] = he_init(n_in, n_out, seed=rng)
        layer.params["bias"].fill(0.0)
        modules.append(layer)
        if i < len(widths) - 2:
            modules.append(ReLU())
    model = Sequential(*modules)
    opt = Adam(lr=config["lr"], weight_decay=config["weight_decay"])
    best_loss, best_params = np.inf, None
    epoch = 0
    while epoch < config["num_epochs"]:
        opt.lr = float(step_decay(config["lr"], epoch, config["step_size"], config["gamma"]))
        model.train()
        seen, loss_total, right = 0, 0.0, 0
        for xb, yb in iterate_minibatches(X_train, y_train, config["batch_size"], True, rng):
            out = model(xb)
            loss, grad = cross_entropy_loss(out, yb)
            model.backward(grad)
            opt.step(model.params, model.grads)
            seen += len(yb)
            loss_total += loss * len(yb)
            right += int((out.argmax(axis=1) == yb).sum())
        model.eval()
        scores = model(X_val)
        val_loss = cross_entropy_loss(scores, y_val)[0]
        for key, value in (("train_loss", loss_total / seen), ("train_acc", right / seen),
                           ("val_loss", val_loss),
                           ("val_acc", np.mean(scores.argmax(axis=1) == y_val)),
                           ("lr", opt.lr)):
            history[key].append(float(value))
        if val_loss < best_loss:
            best_loss = val_loss
            best_params = {name: value.copy() for name, value in model.params.items()}
        epoch += 1
        if should_stop(history["val_loss"], config["patience"]):
            break
    for name, value in best_params.items():
        model.params[name][...] = value
    model.eval()
    return model, history
''',
}

# Classic mistakes, each with the tests it must cost (and nothing else). Mistakes in separate
# building blocks share one hand-in when each block has a test of its own that nothing else
# needs: the hand-in must lose exactly those tests (each block's mistake alone costs only its
# own test, which is how they were first checked one by one).
MISTAKES = {
    "block_mistakes": ({
        # Xavier's uniform variant where the normal one is asked for
        "xavier_init": [("w = std * rng.standard_normal((n_in, n_out))",
                         "w = std * np.sqrt(3.0) * rng.uniform(-1.0, 1.0, (n_in, n_out))")],
        "split_indices": [("order = rng.permutation(n)", "order = np.arange(n)")],
        # log-sum-exp without subtracting the row maximum
        "initial_loss": [
            ("log_sum_exp = row_max[:, 0] + np.log(np.exp(scores - row_max).sum(axis=1))",
             "log_sum_exp = np.log(np.exp(scores).sum(axis=1))")],
        "sample_log_uniform": [(
            "samples = np.exp(rng.uniform(np.log(low), np.log(high), size=size))",
            "samples = rng.uniform(low, high, size=size)")],
    }, {"test_xavier_init", "test_split_indices", "test_initial_loss",
        "test_sample_log_uniform"}),
    # the library's loader instead of the student's iterate_minibatches: both graded training
    # runs are switched off for it
    "library_loader": ({"train_model": [
        ("for X_batch, y_batch in iterate_minibatches(X_train, y_train, config[\"batch_size\"],\n"
         "                                                    shuffle=True, seed=rng):",
         "from i2dl.data import DataLoader\n"
         "        for X_batch, y_batch in DataLoader((X_train, y_train), config[\"batch_size\"],\n"
         "                                           shuffle=True, seed=int(rng.integers(99))):")]},
        {"test_overfit_tiny", "test_final_accuracy"}),
    # the library's He initialiser instead of the student's he_init: Linear's constructor may use
    # i2dl.nn.init, the student's code may not; the visible checks (graded_train_model) already
    # fail both training tests
    "library_init": ({"train_model": [
        ("def train_model(",
         "from i2dl.nn.init import kaiming_normal\n\n\ndef train_model("),
        ("linear.params[\"weight\"][...] = he_init(n_in, n_out, rng)",
         "linear.params[\"weight\"][...] = kaiming_normal((n_in, n_out), seed=rng)")]},
        {"test_overfit_tiny", "test_final_accuracy"}),
    # the library's StepLR instead of the student's step_decay (the same learning rates), and
    # graded_train_model rebound to the plain train_model so that the visible checks pass: the
    # hidden parts, run through the grader, still fail both training tests
    "library_scheduler": ({
        "train_model": [
            ("    optimizer = Adam(lr=config[\"lr\"], weight_decay=config[\"weight_decay\"])\n",
             "    optimizer = Adam(lr=config[\"lr\"], weight_decay=config[\"weight_decay\"])\n"
             "    from i2dl.optim import StepLR\n"
             "    scheduler = StepLR(optimizer, config[\"step_size\"], config[\"gamma\"])\n"),
            ("        optimizer.lr = float(step_decay(config[\"lr\"], epoch, "
             "config[\"step_size\"], config[\"gamma\"]))\n", ""),
            ("        history[\"lr\"].append(optimizer.lr)\n",
             "        history[\"lr\"].append(optimizer.lr)\n        scheduler.step()\n")],
        "overfit_config": [("OVERFIT_CONFIG = {",
                            "graded_train_model = train_model\nOVERFIT_CONFIG = {")],
        "best_config": [("BEST_CONFIG = {", "graded_train_model = train_model\nBEST_CONFIG = {")]},
        {"test_overfit_tiny", "test_final_accuracy"}),
}

PARTIAL = {
    # Five building blocks of 10 points each; nothing that needs the training loop.
    "blocks": (["xavier_init", "he_init", "split_indices", "iterate_minibatches", "should_stop"],
               50),
    # The blocks the training loop uses (he 10, mini-batches 10, early stopping 10, schedules 5)
    # plus the two training goals (overfit 10, final accuracy 15); xavier, split, log-uniform
    # sampling and the initial-loss check are missing.
    "trainer": (["he_init", "iterate_minibatches", "should_stop", "lr_schedules", "train_model",
                 "overfit_config", "best_config"], 60),
}


def test_partial_credit_other_styles_and_classic_mistakes(tmp_path):
    results = grade_class(tmp_path, EX, NB, OTHER_STYLE, MISTAKES, PARTIAL)
    loader = lost(results[("library_loader", EX)])
    assert all("DelegationError" in loader[t] and "i2dl.data" in loader[t] for t in loader), loader
    # Each library shortcut of train_model costs exactly tests 8 and 10 (10 + 15 points), with a
    # message naming what was used and what to use instead.
    shortcuts = {
        "library_init": "train_model uses i2dl.nn.init.kaiming_normal, which this test does not "
                        "allow in your own code: initialise the weights with your own he_init",
        "library_scheduler": "train_model uses i2dl.optim.StepLR, which this test does not allow "
                             "in your own code: set optimizer.lr with your own step_decay",
    }
    for student, message in shortcuts.items():
        assert total(results[(student, EX)]) == 75, (student, lost(results[(student, EX)]))
        errors = lost(results[(student, EX)])
        assert all("DelegationError" in errors[t] and message in errors[t] for t in errors), errors
