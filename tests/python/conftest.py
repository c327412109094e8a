"""Shared fixtures: the `ae` command line (AE_CLI, set by ctest) and a synthetic anomaly table."""
import os
import subprocess

import numpy as np
import pytest


@pytest.fixture(scope="session")
def ae_cli():
    """Runs `ae <args>` and returns its stdout; fails with its stderr."""
    path = os.environ.get("AE_CLI")
    if not path:
        pytest.skip("AE_CLI is not set (ctest sets it to the built `ae`)")

    def run(*args):
        done = subprocess.run([path, *map(str, args)], capture_output=True, text=True,
                              env={**os.environ, "AE_DEVICE": "cpu"})
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def anomaly_table(seed=0, n_normal=1200, n_anomalies=120, features=12, rank=3):
    """Normal rows lie near a random nonlinear 3-d manifold (a sigmoid of a linear map) plus
    small noise; anomalies are the same construction with the features' link broken (each
    feature drawn from another row), so every feature alone looks normal. Returns X
    (n, features) float32 and y (n) with 1 for the anomalies, shuffled."""
    rng = np.random.RandomState(seed)
    w = rng.randn(rank, features) * 2

    def manifold(n):
        return np.tanh(rng.randn(n, rank) @ w) + 0.05 * rng.randn(n, features)

    normal = manifold(n_normal)
    source = manifold(n_anomalies * features).reshape(n_anomalies, features, features)
    anomalies = source[:, np.arange(features), np.arange(features)]
    X = np.vstack([normal, anomalies]).astype(np.float32)
    y = np.r_[np.zeros(n_normal, int), np.ones(n_anomalies, int)]
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), y[order]
