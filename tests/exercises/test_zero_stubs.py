"""No points for no work: answers that return zeros of the right shapes score 0 in ex01-ex06.

Every answer cell of every exercise is replaced by stubs that return zeros (or empty results) of
the shapes the task asks for and never touch their inputs. One autograde run grades all six
hand-ins; each must score 0, and each test must fail on what the stubs return, not because a
name is missing.
"""

import pytest

from grader.sample import student_version
from grader.sample import test_ids as graded_cells
from tests.exercises.conftest import REPO, grade_hand_ins, lost, total
from tests.grader.test_hostile import ZERO_ANSWERS

pytestmark = pytest.mark.fairness

STUBS = {
    "ex01_linear_regression": {
        "add_bias_column": "def add_bias_column(X):\n"
                           "    return np.zeros((X.shape[0], X.shape[1] + 1))\n",
        "predict": "def predict(X, theta):\n    return np.zeros(X.shape[0])\n",
        "mse": "def mse(y_hat, y):\n    return 0.0\n",
        "mse_gradient": "def mse_gradient(X, y, theta):\n    return np.zeros(X.shape[1] + 1)\n",
        "fit_closed_form": "def fit_closed_form(X, y):\n    return np.zeros(X.shape[1] + 1)\n",
        "gradient_descent": "def gradient_descent(X, y, lr, num_steps, theta0):\n"
                            "    return np.zeros(X.shape[1] + 1), np.zeros(num_steps + 1)\n",
        "polynomial_features": "def polynomial_features(x, degree):\n"
                               "    return np.zeros((x.shape[0], degree))\n",
        "select_degree": "def select_degree(x_train, y_train, x_val, y_val, max_degree):\n"
                         "    return 0, np.zeros(max_degree)\n",
    },
    "ex02_backprop_by_hand": {
        "add_mul_forward": "def add_mul_forward(x, y, z):\n    return np.zeros(np.shape(x)), ()\n",
        "add_mul_backward": "def add_mul_backward(dout, cache):\n"
                            "    return tuple(np.zeros(np.shape(dout)) for _ in range(3))\n",
        "sigmoid_neuron_forward": "def sigmoid_neuron_forward(x, w, b):\n    return 0.0, (x, w)\n",
        "sigmoid_neuron_backward": "def sigmoid_neuron_backward(dout, cache):\n"
                                   "    x, w = cache\n"
                                   "    return np.zeros(np.shape(x)), np.zeros(np.shape(w)), 0.0\n",
        "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n"
                              "    return np.zeros(np.shape(x))\n",
        "numerical_gradient_array": "def numerical_gradient_array(f, x, dout, h=1e-5):\n"
                                    "    return np.zeros(np.shape(x))\n",
        "rel_error": "def rel_error(a, b):\n    return 0.0\n",
        "two_layer_forward": "def two_layer_forward(x, y, w1, b1, w2, b2):\n    return 0.0, ()\n",
        "two_layer_backward": "def two_layer_backward(dout, cache):\n"
                              "    return 0.0, 0.0, 0.0, 0.0\n",
        "two_layer_numerical_gradient": "def two_layer_numerical_gradient(x, y, theta):\n"
                                        "    return np.zeros(4)\n",
    },
    "ex03_layers": ZERO_ANSWERS,  # the hostile suite measures its attacks against these
    "ex04_losses_logistic_regression": {
        **{
            cell: f"def {cell}(prediction, target):\n"
                  "    return 0.0, np.zeros(np.shape(prediction))\n"
            for cell in ("l1_loss", "mse_loss", "bce_with_logits_loss", "cross_entropy_loss",
                         "hinge_loss")
        },
        "logreg_predict": "def sigmoid(z):\n    return np.zeros(np.shape(z))\n\n\n"
                          "def predict_proba(X, w, b):\n    return np.zeros(X.shape[0])\n\n\n"
                          "def predict(X, w, b):\n"
                          "    return np.zeros(X.shape[0], dtype=np.int64)\n",
        "train_logistic_regression": "def train_logistic_regression(X, y, lr=0.5, num_steps=300,"
                                     " seed=0):\n"
                                     "    return np.zeros(X.shape[1]), 0.0, [0.0] * num_steps\n",
        "feature_map": "def feature_map(X):\n    return np.zeros((X.shape[0], 3))\n",
    },
    "ex05_mlp_and_optimizers": {
        "two_layer_forward": "def two_layer_forward(X, params):\n"
                             "    return np.zeros((X.shape[0], params['W2'].shape[1])), ()\n",
        "two_layer_loss_and_grads": "def two_layer_loss_and_grads(X, y, params, reg=0.0):\n"
                                    "    return 0.0, {k: np.zeros_like(v) for k, v in"
                                    " params.items()}\n",
        "sgd_step": "def sgd_step(w, dw, lr):\n    return np.zeros_like(w)\n",
        "sgd_momentum_step": "def sgd_momentum_step(w, dw, v, lr, momentum=0.9):\n"
                             "    return np.zeros_like(w), np.zeros_like(w)\n",
        "nesterov_step": "def nesterov_step(w, dw, v, lr, momentum=0.9):\n"
                         "    return np.zeros_like(w), np.zeros_like(w)\n",
        "rmsprop_step": "def rmsprop_step(w, dw, cache, lr, alpha=0.99, eps=1e-8):\n"
                        "    return np.zeros_like(w), np.zeros_like(w)\n",
        "adam_step": "def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                     "    return np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)\n",
        "train": "OPTIMIZER_NAMES = ('sgd', 'momentum', 'nesterov', 'rmsprop', 'adam')\n\n\n"
                 "def train(X, y, hidden_size, optimizer_name, lr, num_epochs, batch_size, seed,"
                 " reg=0.0):\n"
                 "    d, c = X.shape[1], int(y.max()) + 1\n"
                 "    params = {'W1': np.zeros((d, hidden_size)), 'b1': np.zeros(hidden_size),\n"
                 "              'W2': np.zeros((hidden_size, c)), 'b2': np.zeros(c)}\n"
                 "    return params, {'train_loss': [0.0] * num_epochs,\n"
                 "                    'train_accuracy': [0.0] * num_epochs}\n",
        "best_config": "BEST_CONFIG = {'hidden_size': 100, 'optimizer_name': 'adam', 'lr': 0.02,\n"
                       "               'num_epochs': 100, 'batch_size': 32, 'seed': 0}\n",
    },
    "ex06_training_practice": {
        "xavier_init": "def xavier_init(n_in, n_out, seed=None):\n"
                       "    return np.zeros((n_in, n_out))\n",
        "he_init": "def he_init(n_in, n_out, seed=None):\n    return np.zeros((n_in, n_out))\n",
        "split_indices": "def split_indices(n, fractions, seed=None):\n"
                         "    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)\n"
                         "    sizes = np.diff([0, *cuts, n])\n"
                         "    return tuple(np.zeros(s, dtype=int) for s in sizes)\n",
        "iterate_minibatches": "def iterate_minibatches(X, y, batch_size, shuffle=True,"
                               " seed=None):\n"
                               "    for start in range(0, len(X), batch_size):\n"
                               "        m = min(batch_size, len(X) - start)\n"
                               "        yield np.zeros((m, *np.shape(X)[1:])), np.zeros(m, int)\n",
        "should_stop": "def should_stop(val_history, patience, min_delta=0.0):\n    return False\n",
        "sample_log_uniform": "def sample_log_uniform(low, high, size, seed=None):\n"
                              "    return np.zeros(size)\n",
        "lr_schedules": "def step_decay(lr0, epoch, step_size, gamma=0.1):\n"
                        "    return np.zeros(np.shape(epoch))\n\n\n"
                        "def exponential_decay(lr0, epoch, gamma):\n"
                        "    return np.zeros(np.shape(epoch))\n",
        "initial_loss": "def softmax_cross_entropy(scores, y):\n    return 0.0\n\n\n"
                        "def expected_initial_loss(num_classes):\n    return 0.0\n",
        "train_model": "def train_model(X_train, y_train, X_val, y_val, config, seed=0):\n"
                       "    model = Sequential(Linear(X_train.shape[1], NUM_CLASSES))\n"
                       "    for value in model.params.values():\n"
                       "        value[...] = 0.0\n"
                       "    keys = ('train_loss', 'train_acc', 'val_loss', 'val_acc', 'lr')\n"
                       "    return model, {key: [0.0] for key in keys}\n",
        "overfit_config": "OVERFIT_CONFIG = {'hidden_sizes': (64,), 'lr': 1e-2,"
                          " 'weight_decay': 0.0, 'batch_size': 20,\n"
                          "                  'num_epochs': 100, 'patience': 100, 'step_size': 100,"
                          " 'gamma': 1.0}\n",
        "best_config": "BEST_CONFIG = {'hidden_sizes': (128,), 'lr': 1e-2, 'weight_decay': 3e-4,"
                       " 'batch_size': 64,\n"
                       "               'num_epochs': 30, 'patience': 8, 'step_size': 10,"
                       " 'gamma': 0.5}\n",
    },
}


def _zero_hand_in(exercise):
    full = student_version(REPO, exercise, exercise)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in full.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    assert answers == set(STUBS[exercise]), (exercise, answers ^ set(STUBS[exercise]))
    return student_version(REPO, exercise, exercise, solved=[], rewrite={
        cell: (lambda _s, code=code: code) for cell, code in STUBS[exercise].items()})


def test_zero_stubs_score_nothing_in_any_exercise(tmp_path):
    hand_ins = {("zeros", ex, ex): _zero_hand_in(ex) for ex in STUBS}
    results = grade_hand_ins(tmp_path, hand_ins)  # one run, every exercise handed in
    for exercise in STUBS:
        tests = results[("zeros", exercise)]
        assert set(tests) == set(graded_cells(hand_ins[("zeros", exercise, exercise)])), exercise
        assert total(tests) == 0, (exercise, {g: t["score"] for g, t in tests.items()})
        # every test ran the stubs and judged what they returned
        for grade_id, error in lost(tests).items():
            assert not error.startswith(("NameError", "NotImplementedError", "TypeError")), (
                exercise, grade_id, error)
