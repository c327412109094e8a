"""ae.SparseAutoencoder: fit on arrays and on streamed files, transform (dense and sparse),
inverse_transform, history_, n_dead_latents_, save and load, errors."""
import os

import numpy as np
import pytest

import ae

SMALL = dict(latents=96, k=4, epochs=2, batch_size=64, lr_warmup=5, random_state=0)


def activations(n=1024, d=24, atoms=64, seed=0):
    """Rows that are sums of 4 of `atoms` unit directions with positive weights, plus noise."""
    rng = np.random.RandomState(seed)
    dictionary = rng.randn(atoms, d)
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    x = 0.3 + 0.01 * rng.randn(n, d)
    for _ in range(4):
        x += rng.uniform(0.5, 2, (n, 1)) * dictionary[rng.randint(atoms, size=n)]
    return x.astype(np.float32)


@pytest.mark.parametrize("kind", ["topk", "batchtopk", "jumprelu", "relu-l1"])
def test_fit_transform_and_history(kind):
    X = activations()
    sae = ae.SparseAutoencoder(kind, **SMALL).fit(X)
    Z = sae.transform(X)
    assert Z.shape == (len(X), 96) and Z.dtype == np.float32
    assert (Z >= 0).all()
    h = sae.history_
    assert len(h) == 2
    for column in ("l0", "dead_fraction", "dense_fraction", "mse", "fvu", "explained_variance",
                   "dead_latents", "auxk", "train_penalty"):
        assert column in h.columns, column
    assert 0 < h["fvu"].iloc[-1] < 1.5
    assert h["explained_variance"].iloc[-1] == pytest.approx(1 - h["fvu"].iloc[-1])
    assert sae.n_dead_latents_ == h["dead_latents"].iloc[-1]
    if kind == "topk":
        assert (np.count_nonzero(Z, axis=1) <= 4).all()
        assert 2 < h["l0"].iloc[-1] <= 4
    # Decoding the code is the reconstruction.
    np.testing.assert_allclose(sae.inverse_transform(Z), sae.reconstruct(X), rtol=1e-4, atol=1e-4)


def test_float16_input_and_sparse_output():
    pytest.importorskip("scipy")
    X = activations()
    sae = ae.SparseAutoencoder(sparse_output=True, **SMALL).fit(X.astype(np.float16))
    Z = sae.transform(X)
    assert Z.format == "csr" and Z.shape == (len(X), 96)
    assert Z.getnnz(axis=1).max() <= 4
    dense = ae.SparseAutoencoder(**SMALL).fit(X.astype(np.float16)).transform(X)
    np.testing.assert_array_equal(Z.toarray(), dense)
    np.testing.assert_allclose(sae.inverse_transform(Z), sae.inverse_transform(dense), atol=1e-5)


def test_fit_streams_a_file_and_a_folder_like_the_array(tmp_path):
    X = activations()
    np.save(tmp_path / "acts.npy", X)
    os.mkdir(tmp_path / "shards")
    np.save(tmp_path / "shards" / "a.npy", X[:512])
    np.save(tmp_path / "shards" / "b.npy", X[512:])
    from_file = ae.SparseAutoencoder(**SMALL).fit(str(tmp_path / "acts.npy"))
    from_folder = ae.SparseAutoencoder(**SMALL).fit(tmp_path / "shards")
    for sae in (from_file, from_folder):
        assert sae.n_features_in_ == X.shape[1]
        assert len(sae.history_) == 2
        assert sae.history_["fvu"].iloc[-1] < 1.5
        assert sae.transform(X).shape == (len(X), 96)


def test_save_and_load(tmp_path):
    X = activations()
    sae = ae.SparseAutoencoder("jumprelu", **SMALL).fit(X)
    sae.save(tmp_path / "sae.safetensors")
    back = ae.SparseAutoencoder.load(tmp_path / "sae.safetensors")
    assert back.kind == "jumprelu" and back.latents == 96
    np.testing.assert_array_equal(back.transform(X), sae.transform(X))
    assert back.n_dead_latents_ is None


def test_bad_settings_are_value_errors():
    X = activations()
    with pytest.raises(ValueError, match="exceeds --latents"):
        ae.SparseAutoencoder(latents=8, k=16, epochs=1).fit(X)
    with pytest.raises(ValueError, match="unknown value 'sparse'"):
        ae.SparseAutoencoder(decoder_bias_init="sparse", epochs=1).fit(X)
    with pytest.raises(ValueError, match="model.kind"):
        ae.SparseAutoencoder("gated", epochs=1).fit(X)
    with pytest.raises(ValueError, match="has no anomaly scorer"):
        ae.AnomalyDetector(model="topk", options={"model.latents": 96, "model.k": 4},
                           epochs=1).fit(X)
    with pytest.raises(FileNotFoundError):
        ae.SparseAutoencoder(epochs=1).fit("no-such-file.npy")
