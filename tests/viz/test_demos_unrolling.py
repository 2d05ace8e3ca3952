"""The lecture 14 helpers: ISTA's numerics, and a widget that follows its controls."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from i2dl.viz.demos_unrolling import (
    blur_matrix,
    ista,
    lasso_energy,
    nmse_db,
    soft_threshold,
    spike_signals,
    unrolling_demo,
)

pytestmark = pytest.mark.viz


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    A = blur_matrix(32, 1.5)
    x = spike_signals(6, 32, 0.1, rng)
    y = x @ A.T + 0.01 * rng.standard_normal(x.shape)
    return A, x, y


def test_blur_matrix_is_a_normalised_symmetric_gaussian():
    A = blur_matrix(20, 2.0)
    np.testing.assert_allclose(A, A.T)
    assert A.sum(axis=1).max() == pytest.approx(1.0)
    assert A[5, 7] / A[5, 5] == pytest.approx(np.exp(-0.5))


def test_spike_signals_have_the_asked_density_and_magnitudes():
    x = spike_signals(200, 100, 0.05, np.random.default_rng(1))
    assert np.mean(x != 0) == pytest.approx(0.05, abs=0.005)
    magnitudes = np.abs(x[x != 0])
    assert magnitudes.min() >= 0.5 and magnitudes.max() <= 1.5


@pytest.mark.parametrize("v", [-2.0, -0.3, 0.0, 0.1, 0.7, 3.0])
def test_soft_threshold_is_the_prox_of_the_l1_norm(v):
    t = 0.4
    best = minimize_scalar(lambda u: 0.5 * (u - v) ** 2 + t * abs(u), bounds=(-5, 5),
                           method="bounded", options={"xatol": 1e-10}).x
    assert soft_threshold(np.array(v), t) == pytest.approx(best, abs=1e-6)


def test_ista_first_step_and_monotone_energy(problem):
    A, x, y = problem
    lam = 0.01
    L = np.linalg.eigvalsh(A.T @ A).max()
    iterates = ista(A, y, lam, 50)
    assert iterates.shape == (51, 6, 32)
    np.testing.assert_array_equal(iterates[0], 0.0)
    np.testing.assert_allclose(iterates[1], soft_threshold(y @ A / L, lam / L))
    np.testing.assert_array_equal(ista(A, y, lam, 50, every=10), iterates[::10])
    energies = np.array([lasso_energy(A, it, y, lam) for it in iterates])
    assert np.all(np.diff(energies, axis=0) <= 1e-12), "ISTA with step 1/L must not go uphill"


def test_fista_reaches_the_lasso_optimality_conditions(problem):
    A, x, y = problem
    lam = 0.01
    x_hat = ista(A, y, lam, 3000, fista=True)[-1]
    gradient = (x_hat @ A.T - y) @ A
    on = x_hat != 0
    # 0 in grad + lam * subdifferential of |x|: -grad = lam sign(x) on the support, |grad| <= lam
    np.testing.assert_allclose(-gradient[on], lam * np.sign(x_hat[on]), atol=1e-6)
    assert np.all(np.abs(gradient[~on]) <= lam + 1e-6)
    slow = ista(A, y, lam, 30)[-1]
    fast = ista(A, y, lam, 30, fista=True)[-1]
    assert lasso_energy(A, fast, y, lam).sum() < lasso_energy(A, slow, y, lam).sum()


def test_nmse_db():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert nmse_db(1.1 * x, x) == pytest.approx(-20.0)


def test_demo_redraws_and_reports_the_errors(problem):
    A, x, y = problem
    iterates = {"ISTA": ista(A, y, 0.01, 6), "FISTA": ista(A, y, 0.01, 6, fista=True)}
    demo = unrolling_demo(x, y, iterates, n_shown=3)
    assert list(demo.controls) == ["k", "signal"]
    assert demo.controls["k"].value == 6 and demo.controls["k"].max == 6
    seen = {bytes(demo.image.value)}
    for name, value in [("k", 2), ("signal", 1)]:
        demo.controls[name].value = value
        png = bytes(demo.image.value)
        assert png not in seen, f"moving {name} did not change the figure"
        seen.add(png)
    axes = demo.figure.axes
    assert axes[0].get_title() == (
        f"ISTA, iteration 2: error {nmse_db(iterates['ISTA'][2, 1], x[1]):.1f} dB")
    estimate = axes[1].lines[-1].get_ydata()
    np.testing.assert_allclose(estimate, iterates["FISTA"][2, 1])
    curve = axes[-1].lines[0].get_ydata()
    np.testing.assert_allclose(curve, [nmse_db(it, x) for it in iterates["ISTA"]])
    assert plt.get_fignums() == []


def test_demo_rejects_methods_of_different_lengths(problem):
    A, x, y = problem
    with pytest.raises(ValueError, match="same number"):
        unrolling_demo(x, y, {"a": ista(A, y, 0.01, 3), "b": ista(A, y, 0.01, 4)})
