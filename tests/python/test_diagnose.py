"""fit's code check: the warning `ae train` prints (one piece of C++, run/diagnose.h) raised as
ae.ConvergenceWarning, its counts as fitted attributes, and a sparse code's firing in history_."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

import ae


def bars(n=600, seed=0):
    """n 8x8 pictures (64 features in {0, 1}) of one to three horizontal or vertical bars."""
    rng = np.random.RandomState(seed)
    X = np.zeros((n, 8, 8), np.float32)
    for i in range(n):
        for _ in range(rng.randint(1, 4)):
            k = rng.randint(8)
            if rng.rand() < 0.5:
                X[i, k, :] = 1
            else:
                X[i, :, k] = 1
    return X.reshape(n, 64)


@pytest.fixture(scope="module")
def X():
    return bars()


def fit_catching(est, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X)
    return [w for w in caught if issubclass(w.category, ae.ConvergenceWarning)]


def test_convergence_warning_is_sklearns():
    assert issubclass(ae.ConvergenceWarning, SklearnConvergenceWarning)


def test_dead_relu_units_warn_and_are_counted(X):
    est = ae.Autoencoder(model="ae", code=256, code_activation="relu", penalty="l1",
                         penalty_weight=0.5, lr=0.005, epochs=5, batch_size=32,
                         validation_fraction=0.1, random_state=0)
    caught = fit_catching(est, X)
    assert len(caught) == 1, [str(w.message) for w in caught]
    text = str(caught[0].message)
    assert caught[0].filename == __file__  # pointed at the caller of fit
    assert f"{est.n_dead_latents_} of 256 code units never fire" in text, text
    assert "likely cause: too strong a penalty (--penalty l1 with --penalty-weight 0.5)" in text
    assert 64 <= est.n_dead_latents_ <= 160
    assert est.collapsed_ is False
    assert est.n_constant_latents_ >= est.n_dead_latents_  # a dead ReLU unit is constant at 0
    # history_: the sparse code's firing every epoch.
    last = est.history_.iloc[-1]
    assert 0.15 < last["dead_fraction"] < 0.7
    assert 1 < last["l0"] < 256 * (1 - last["dead_fraction"])
    assert 0 < last["dense_fraction"] <= 1 - last["dead_fraction"]


def test_destroying_noise_collapses_and_the_warning_names_it(X):
    est = ae.Autoencoder(model="dae", noise="gaussian", noise_level=50.0, epochs=3,
                         batch_size=32, validation_fraction=0.1, random_state=0)
    caught = fit_catching(est, X)
    assert len(caught) == 1, [str(w.message) for w in caught]
    text = str(caught[0].message)
    assert "no better than predicting their mean" in text, text
    assert "likely cause: the corruption (gaussian σ=50 on data with std" in text, text
    assert "lower --noise-level" in text and "--epochs" not in text
    assert est.collapsed_ is True
    assert est.n_dead_latents_ is None  # a sigmoid code without a sparsity penalty
    assert "l0" not in est.history_.columns


def test_a_healthy_model_fits_without_a_warning(X):
    est = ae.Autoencoder(model="dae", epochs=3, batch_size=32, validation_fraction=0.1,
                         random_state=0)
    assert fit_catching(est, X) == []
    assert est.collapsed_ is False
    assert est.n_constant_latents_ == 0
