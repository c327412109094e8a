"""Shared fixtures: the `ae` command line (AE_CLI, set by ctest), optional peer packages
(require) and a synthetic anomaly table."""
import importlib
import os
import subprocess

import numpy as np
import pytest


def require(name):
    """The module `name` (e.g. "torch"); the test is skipped without it, unless AE_REQUIRE_PEERS=1,
    where a missing module fails the test."""
    if os.environ.get("AE_REQUIRE_PEERS") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name)


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


def anomaly_table(seed=0, n_normal=1200, n_anomalies=120, features=12, swapped=2, noise=0.02):
    """Normal rows lie near a curved 2-d manifold in 12-d (a random two-layer tanh map of
    uniform 2-d points) plus small noise; an anomaly is such a row with `swapped` of its
    features taken from another row, so every feature alone looks normal and only their link
    breaks. A linear model (PCA) sees the manifold's span but not its curve. Returns X
    (n, features) float32 and y (n) with 1 for the anomalies, shuffled."""
    rng = np.random.RandomState(seed)
    inner, outer = rng.randn(2, 8) * 1.5, rng.randn(8, features)

    def manifold(n):
        z = rng.uniform(-1.5, 1.5, (n, 2))
        return np.tanh(np.tanh(z @ inner) @ outer) + noise * rng.randn(n, features)

    normal, anomalies, donors = manifold(n_normal), manifold(n_anomalies), manifold(n_anomalies)
    for i in range(n_anomalies):
        columns = rng.choice(features, swapped, replace=False)
        anomalies[i, columns] = donors[i, columns]
    X = np.vstack([normal, anomalies]).astype(np.float32)
    y = np.r_[np.zeros(n_normal, int), np.ones(n_anomalies, int)]
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), y[order]
