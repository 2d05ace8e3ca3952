"""ex10_rnn_lstm: partial credit, other correct styles, classic mistakes cost exactly their test.

One autograde run grades the whole class below; every student's score and the set of test cells
that lost points are asserted exactly.
"""

import pytest

from grader.sample import student_version
from tests.exercises.conftest import grade_students, lost, run_hidden_region, seeded, sub
from tests.grader.conftest import REPO

pytestmark = pytest.mark.ex10

EXERCISE = NOTEBOOK = "ex10_rnn_lstm"
NUMPY_CELLS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
               "lstm_step_forward", "lstm_step_backward", "clip_grad_norm"]
RNN_CELLS = NUMPY_CELLS[:4]
TORCH_TESTS = {"test_predict_sequences", "test_adding_uses_both_numbers", "test_adding_solved"}

# Every answer cell replaced by code that returns zeros of the right shapes (no work done).
ZERO_STUBS = {
    "rnn_step_forward": '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    return np.zeros_like(h_prev), (x, h_prev, Wx, Wh, b)
''',
    "rnn_step_backward": '''
def rnn_step_backward(dh, cache):
    x, h_prev, Wx, Wh, b = cache
    return (np.zeros_like(x), np.zeros_like(h_prev), np.zeros_like(Wx), np.zeros_like(Wh),
            np.zeros_like(b))
''',
    "rnn_forward": '''
def rnn_forward(x, h0, Wx, Wh, b):
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), (x, h0, Wx, Wh, b)
''',
    "rnn_backward": '''
def rnn_backward(dh, cache):
    x, h0, Wx, Wh, b = cache
    return (np.zeros_like(x), np.zeros_like(h0), np.zeros_like(Wx), np.zeros_like(Wh),
            np.zeros_like(b))
''',
    "lstm_step_forward": '''
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    return np.zeros_like(h_prev), np.zeros_like(c_prev), (x, h_prev, c_prev, Wx, Wh, b)
''',
    "lstm_step_backward": '''
def lstm_step_backward(dh, dc, cache):
    return tuple(np.zeros_like(a) for a in cache)
''',
    "clip_grad_norm": '''
def clip_grad_norm(grads, max_norm):
    return {k: np.zeros_like(v) for k, v in grads.items()}, 0.0
''',
    "sequence_regressor": '''
class SequenceRegressor(nn.Module):
    def __init__(self, cell="lstm", input_size=2, hidden_size=32):
        super().__init__()
        self.head = nn.Linear(input_size, 1)

    def forward(self, x):
        return 0.0 * self.head(x[:, -1])
''',
    "train_regressor": '''
def train_regressor(model, X_train, y_train, X_val, y_val, seed=0):
    return None
''',
    "predict_sequences": '''
def predict_sequences(model, x):
    return np.zeros(len(x))
''',
}

# Correct solutions written differently from the reference: dict caches, gates computed one by
# one with their own weight slices, einsum, another sigmoid, clipping without the 1e-6; a smaller
# LSTM read from its final state tuple, trained by a hand-written PyTorch loop with AdamW and
# weight decay instead of the Trainer and Adam.
OTHER_STYLE = {
    "rnn_step_forward": '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    pre = np.dot(x, Wx) + np.dot(h_prev, Wh) + b[None, :]
    h = np.tanh(pre)
    return h, {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "h": h}
''',
    "rnn_step_backward": '''
def rnn_step_backward(dh, cache):
    dpre = dh * (1.0 - cache["h"] * cache["h"])
    return (np.einsum("nh,dh->nd", dpre, cache["Wx"]), np.einsum("nh,kh->nk", dpre, cache["Wh"]),
            np.einsum("nd,nh->dh", cache["x"], dpre), np.einsum("nk,nh->kh", cache["h_prev"], dpre),
            np.einsum("nh->h", dpre))
''',
    "rnn_forward": '''
def rnn_forward(x, h0, Wx, Wh, b):
    states, caches = [], []
    h = h0
    for t in range(x.shape[1]):
        h, c = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        states.append(h)
        caches.append(c)
    return np.stack(states, axis=1), {"steps": caches, "D": x.shape[2]}
''',
    "rnn_backward": '''
def rnn_backward(dh, cache):
    steps = cache["steps"]
    carry = np.zeros_like(dh[:, 0])
    dxs = [None] * len(steps)
    totals = None
    for t in range(len(steps) - 1, -1, -1):
        dx_t, carry, *param_grads = rnn_step_backward(dh[:, t] + carry, steps[t])
        dxs[t] = dx_t
        totals = param_grads if totals is None else [a + g for a, g in zip(totals, param_grads)]
    return (np.stack(dxs, axis=1), carry, *totals)
''',
    "lstm_step_forward": '''
def _sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    gate = {}
    for k, name in enumerate("ifgo"):
        cols = slice(k * H, (k + 1) * H)
        pre = x @ Wx[:, cols] + h_prev @ Wh[:, cols] + b[cols]
        gate[name] = np.tanh(pre) if name == "g" else _sigmoid(pre)
    c = gate["f"] * c_prev + gate["i"] * gate["g"]
    h = gate["o"] * np.tanh(c)
    return h, c, {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh, "c": c,
                  **gate}
''',
    "lstm_step_backward": '''
def lstm_step_backward(dh, dc, cache):
    i, f, g, o = (cache[k] for k in "ifgo")
    tc = np.tanh(cache["c"])
    dc_sum = dc + dh * o * (1 - tc**2)
    pre_grads = {"i": dc_sum * g * i * (1 - i), "f": dc_sum * cache["c_prev"] * f * (1 - f),
                 "g": dc_sum * i * (1 - g**2), "o": dh * tc * o * (1 - o)}
    H = i.shape[1]
    dx = np.zeros_like(cache["x"])
    dh_prev = np.zeros_like(cache["h_prev"])
    dWx_blocks, dWh_blocks, db_blocks = [], [], []
    for k, name in enumerate("ifgo"):
        cols = slice(k * H, (k + 1) * H)
        d = pre_grads[name]
        dx = dx + d @ cache["Wx"][:, cols].T
        dh_prev = dh_prev + d @ cache["Wh"][:, cols].T
        dWx_blocks.append(cache["x"].T @ d)
        dWh_blocks.append(cache["h_prev"].T @ d)
        db_blocks.append(d.sum(axis=0))
    return (dx, dh_prev, dc_sum * f, np.hstack(dWx_blocks), np.hstack(dWh_blocks),
            np.concatenate(db_blocks))
''',
    "clip_grad_norm": '''
import math


def clip_grad_norm(grads, max_norm):
    total_norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if total_norm <= max_norm:
        return {k: g.copy() for k, g in grads.items()}, total_norm
    return {k: np.multiply(g, max_norm / total_norm) for k, g in grads.items()}, total_norm
''',
    "sequence_regressor": '''
class SequenceRegressor(nn.Module):
    def __init__(self, cell="lstm", input_size=2, hidden_size=24):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.RNN)(input_size, hidden_size,
                                                          batch_first=True)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x):
        _, state = self.rnn(x)
        h_last = state[0] if isinstance(state, tuple) else state
        return self.out(h_last[-1])
''',
    "train_regressor": '''
from i2dl.training import History


def train_regressor(model, X_train, y_train, X_val, y_val, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X, y = (torch.tensor(a, dtype=torch.float32) for a in (X_train, y_train))
    X_v, y_v = (torch.tensor(a, dtype=torch.float32) for a in (X_val, y_val))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    history = History()
    for epoch in range(1, 9):
        model.train()
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 64):
            batch = order[start:start + 64]
            loss = nn.functional.mse_loss(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = nn.functional.mse_loss(model(X_v), y_v).item()
        history.append({"epoch": epoch, "train_loss": loss.item(), "val_loss": val_loss,
                        "val_metric": float("nan"), "lr": 1e-2, "epoch_time": 0.0})
    return history
''',
    "predict_sequences": '''
def predict_sequences(model, x):
    was_training = model.training
    model.train(False)
    with torch.inference_mode():
        out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    model.train(was_training)
    return out.numpy().reshape(len(x)).astype(float)
''',
}


def version(solved=None, rewrite=None):
    return student_version(REPO, EXERCISE, NOTEBOOK, solved, rewrite=rewrite)


def test_class_of_hand_ins_gets_exact_scores(tmp_path):
    students = {
        "full": version(),
        "zero_stubs": version([], rewrite={k: (lambda _s, c=c: c) for k, c in ZERO_STUBS.items()}),
        "rnn_only": version(RNN_CELLS),
        "numpy_only": version(NUMPY_CELLS),
        "other_style": version(rewrite={k: (lambda _s, c=c: c) for k, c in OTHER_STYLE.items()}),
        # The numpy part only, with the LSTM gates in the order i, f, o, g (consistently in
        # forward and backward) and a BPTT that drops the gradient from the future.
        "bugs_a": version(NUMPY_CELLS, rewrite={
            "lstm_step_forward": lambda s: s.replace("A[:, 2 * H:3 * H]", "A[:, THIRD]")
            .replace("A[:, 3 * H:]", "A[:, 2 * H:3 * H]").replace("A[:, THIRD]", "A[:, 3 * H:]"),
            "lstm_step_backward": sub(
                "        dc_total * i * (1.0 - g**2),\n        dh * tanh_c * o * (1.0 - o),",
                "        dh * tanh_c * o * (1.0 - o),\n        dc_total * i * (1.0 - g**2),"),
            "rnn_backward": sub("rnn_step_backward(dh[:, t] + dh_future, steps[t])",
                                "rnn_step_backward(dh[:, t], steps[t])"),
        }),
        # The LSTM backward forgets that c reaches the loss through tanh(c) in h; the RNN step
        # backward scales dh in place; the model predicts a learned constant.
        "bugs_b": version(rewrite={
            "lstm_step_backward": sub("dc_total = dc + dh * o * (1.0 - tanh_c**2)",
                                      "dc_total = dc"),
            "rnn_step_backward": sub("da = dh * (1.0 - h**2)", "dh *= 1.0 - h**2\n    da = dh"),
            "sequence_regressor": sub("return self.head(states[:, -1])",
                                      "return self.head.bias.expand(len(x), 1)"),
        }),
    }
    tests, scores, losses = grade_students(tmp_path, EXERCISE, NOTEBOOK, students)
    every_test = set(tests["full"])
    assert len(every_test) == 10

    assert scores["full"] == 100 and losses["full"] == set()
    assert scores["zero_stubs"] == 0
    # rnn step forward/backward 10 + 10, sequence forward 10, BPTT 15
    assert scores["rnn_only"] == 45
    assert losses["rnn_only"] == every_test - {"test_rnn_step_forward", "test_rnn_step_backward",
                                               "test_rnn_forward", "test_rnn_backward"}
    # all numpy parts (75); the PyTorch model (25) is missing
    assert scores["numpy_only"] == 75 and losses["numpy_only"] == TORCH_TESTS
    assert scores["other_style"] == 100, lost(tests["other_style"])
    # of the numpy part's 75 points, the gate order costs both LSTM tests (25) and BPTT 15
    assert losses["bugs_a"] == {"test_lstm_step_forward", "test_lstm_step_backward",
                                "test_rnn_backward"} | TORCH_TESTS
    assert scores["bugs_a"] == 35
    assert "gate order" in lost(tests["bugs_a"])["test_lstm_step_forward"]
    # LSTM backward 15, RNN step backward 10, a constant model fails all three model tests (25)
    assert losses["bugs_b"] == {"test_lstm_step_backward", "test_rnn_step_backward"} | TORCH_TESTS
    assert scores["bugs_b"] == 50
    assert "in place" in lost(tests["bugs_b"])["test_rnn_step_backward"]
    assert "0.05" in lost(tests["bugs_b"])["test_adding_uses_both_numbers"]


@pytest.mark.parametrize("seed", [98, 191, 356, 376])
def test_the_hidden_clipping_test_accepts_an_exact_scaling(seed):
    # torch.nn.utils.clip_grad_norm_ scales by max_norm / (norm + 1e-6); the other style above
    # scales by max_norm / norm, which is also correct. The hidden region used to draw global
    # norms down to about 0.01, where the two differ by more than its tolerance: that hand-in
    # lost 5 points in about one run in a hundred. These seeds of the region's unseeded
    # generator are four such runs of the old region (out of 400).
    run_hidden_region(EXERCISE, "test_clip_grad_norm", seeded(seed), "import torch",
                      OTHER_STYLE["clip_grad_norm"])
