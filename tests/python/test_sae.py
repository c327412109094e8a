"""ae.SparseAutoencoder: fit on arrays and on streamed files, partial_fit batch by batch (NumPy
and PyTorch), encode (dense and sparse), decode, transform, inverse_transform, history_ and the
fitted figures, save and load, errors."""
import os

import numpy as np
import pytest
from conftest import require

import ae
from ae import _core

SMALL = dict(n_latents=96, k=4, epochs=2, batch_size=64, lr_warmup=5, random_state=0)


def activations(n=1024, d=24, atoms=64, seed=0):
    """Rows that are sums of 4 of `atoms` unit directions with positive weights, plus noise."""
    rng = np.random.RandomState(seed)
    dictionary = rng.randn(atoms, d)
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    x = 0.3 + 0.01 * rng.randn(n, d)
    for _ in range(4):
        x += rng.uniform(0.5, 2, (n, 1)) * dictionary[rng.randint(atoms, size=n)]
    return x.astype(np.float32)


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "jumprelu", "relu-l1"])
def test_fit_transform_and_history(architecture):
    X = activations()
    sae = ae.SparseAutoencoder(architecture, **SMALL).fit(X)
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
    if architecture == "topk":
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
    assert back.architecture == "jumprelu" and back.n_latents == 96
    np.testing.assert_array_equal(back.transform(X), sae.transform(X))
    assert back.n_dead_latents_ is None


def test_load_refuses_a_model_that_is_not_a_sparse_autoencoder(tmp_path):
    X = activations()
    ae.Autoencoder(hidden=(16,), code=4, epochs=10).fit(X).save(tmp_path / "ae.safetensors")
    with pytest.raises(ValueError, match=r"ae.safetensors: holds a model of kind 'ae', which "
                                         r"SparseAutoencoder does not load"):
        ae.SparseAutoencoder.load(tmp_path / "ae.safetensors")
    # Autoencoder is the general one: it loads a sparse autoencoder too.
    ae.SparseAutoencoder(**SMALL).fit(X).save(tmp_path / "sae.safetensors")
    assert ae.Autoencoder.load(tmp_path / "sae.safetensors").model == "topk"


def test_bad_settings_are_value_errors():
    X = activations()
    with pytest.raises(ValueError, match="exceeds --latents"):
        ae.SparseAutoencoder(n_latents=8, k=16, epochs=1).fit(X)
    with pytest.raises(ValueError, match="unknown value 'sparse'"):
        ae.SparseAutoencoder(decoder_bias_init="sparse", epochs=1).fit(X)
    with pytest.raises(ValueError, match="model.kind"):
        ae.SparseAutoencoder("gated", epochs=1).fit(X)
    with pytest.raises(ValueError, match="has no anomaly scorer"):
        ae.AnomalyDetector(model="topk", options={"model.latents": 96, "model.k": 4},
                           epochs=1).fit(X)
    with pytest.raises(FileNotFoundError):
        ae.SparseAutoencoder(epochs=1).fit("no-such-file.npy")


def dense_from_slots(values, indices, n_latents):
    """The dense (rows, n_latents) code of encode(sparse=True)'s slots (-1: empty)."""
    Z = np.zeros((len(values), n_latents), np.float32)
    rows, slots = np.nonzero(indices >= 0)
    Z[rows, indices[rows, slots]] = values[rows, slots]
    return Z


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "jumprelu", "relu-l1"])
def test_encode_sparse_agrees_with_dense_and_decode_is_reconstruct(architecture):
    X = activations()
    sae = ae.SparseAutoencoder(architecture, **SMALL).fit(X)
    values, indices = sae.encode(X, sparse=True)
    assert values.dtype == np.float32 and indices.dtype == np.int32
    assert values.shape == indices.shape and len(values) == len(X)
    if architecture == "topk":
        assert values.shape[1] == 4
    Z = sae.encode(X)
    assert Z.shape == (len(X), 96) and Z.dtype == np.float32
    np.testing.assert_array_equal(dense_from_slots(values, indices, 96), Z)
    np.testing.assert_array_equal(sae.transform(X), Z)
    np.testing.assert_allclose(sae.decode(sae.encode(X)), sae.reconstruct(X), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_array_equal(sae.inverse_transform(Z), sae.decode(Z))


def test_fitted_figures_are_the_last_epoch():
    X = activations()
    sae = ae.SparseAutoencoder(**SMALL).fit(X)
    last = sae.history_.iloc[-1]
    for name in ("fvu", "explained_variance", "l0", "mse", "dead_fraction", "dense_fraction"):
        assert getattr(sae, name + "_") == last[name], name
    assert sae.n_dead_latents_ == last["dead_latents"]


def test_partial_fit_learns_batch_by_batch():
    X = activations(n=8192)
    sae = ae.SparseAutoencoder(**{**SMALL, "lr": 1e-2})
    for lo in range(0, len(X), 512):
        sae.partial_fit(X[lo:lo + 512])
    h = sae.history_
    assert len(h) == 16 and list(h["epoch"]) == list(range(1, 17))
    assert list(h["steps"]) == [8 * (i + 1) for i in range(16)]  # 512 rows / batch_size 64
    assert sae.n_epochs_ == 0
    assert sae.fvu_ == h["fvu"].iloc[-1] and sae.l0_ == h["l0"].iloc[-1]
    print(f"[ measured ] partial_fit FVU: first call {h['fvu'].iloc[0]:.3f}, "
          f"last {sae.fvu_:.3f}")
    assert sae.fvu_ < 0.4 and sae.fvu_ < 0.6 * h["fvu"].iloc[0]
    assert sae.explained_variance_ == pytest.approx(1 - sae.fvu_)
    assert sae.l0_ <= 4 and sae.n_dead_latents_ == 0
    # The last step of a call may be a smaller chunk: 100 rows of batch_size 64 are 2 steps.
    sae.partial_fit(X[:100])
    assert sae.history_["steps"].iloc[-1] == 16 * 8 + 2


def test_partial_fit_builds_history_only_when_read(monkeypatch):
    # A hook's loop calls partial_fit thousands of times: a table of every call's row built on
    # each of them would make the n-th call cost O(n).
    pd = pytest.importorskip("pandas")
    built = []

    class Counted(pd.DataFrame):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pd, "DataFrame", Counted)
    X = activations(n=2048)
    sae = ae.SparseAutoencoder(**SMALL)
    for lo in range(0, len(X), 128):
        sae.partial_fit(X[lo:lo + 128])
    assert built == [] and sae.l0_ is not None
    assert len(sae.history_) == 16 and len(sae.history_) == 16 and len(built) == 1
    sae.partial_fit(X[:128])
    assert list(sae.history_["epoch"]) == list(range(1, 18)) and len(built) == 2
    assert sae.fvu_ == sae.history_["fvu"].iloc[-1]


def test_partial_fit_reads_torch_tensors_in_place():
    torch = require("torch")
    X = activations(n=2048)
    t = torch.from_numpy(X)
    assert _core.tensor_view(t)[0] == t.data_ptr()
    sae = ae.SparseAutoencoder(normalize="none", **SMALL)
    for lo in range(0, len(X), 512):
        batch = t[lo:lo + 512]
        sae.partial_fit(batch)
        # The rows the optimizer steps over are the tensor's own memory: no copy on the way.
        assert sae.model_.rows_view == (batch.data_ptr(), "cpu")
    assert sae.n_features_in_ == X.shape[1] and sae.device_ == "cpu"
    reference = ae.SparseAutoencoder(normalize="none", **SMALL)
    for lo in range(0, len(X), 512):
        reference.partial_fit(X[lo:lo + 512])
    np.testing.assert_array_equal(sae.encode(t), reference.encode(X))
    with pytest.raises(TypeError, match="dtype torch.float64: ae reads float32"):
        sae.partial_fit(t.double())
    with pytest.raises(ValueError, match="0 sample"):
        sae.partial_fit(t[:0])
    with pytest.raises(ValueError, match="X has 5 features, but SparseAutoencoder is "
                                         "expecting 24 features"):
        sae.partial_fit(t[:, :5].contiguous())


class OnCuda:
    """A tensor that says it lives on cuda:0 (DLPack device type 2)."""
    shape, dtype = (8, 24), "float32"

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, **kwargs):
        raise AssertionError("not exported without a CUDA device")


def test_partial_fit_errors():
    X = activations()
    sae = ae.SparseAutoencoder(**SMALL).partial_fit(X[:256])
    with pytest.raises(ValueError, match="X has 10 features, but SparseAutoencoder is expecting "
                                         "24 features"):
        sae.partial_fit(X[:64, :10])
    with pytest.raises(ValueError, match="0 sample"):
        sae.partial_fit(X[:0])
    # Other float dtypes are converted once, as for fit.
    sae.partial_fit(X[:64].astype(np.float64))
    assert sae.history_["steps"].iloc[-1] == 5
    if _core.cuda_device_count() == 0:
        with pytest.raises(ValueError, match=r"X is on cuda:0, but ae has 0 usable CUDA"):
            ae.SparseAutoencoder(**SMALL).partial_fit(OnCuda())
    with pytest.raises(ValueError, match="model.kind"):
        ae.SparseAutoencoder("gated", **SMALL).partial_fit(X)


def test_fit_after_partial_fit_starts_over_and_partial_fit_after_fit_goes_on():
    X = activations()
    sae = ae.SparseAutoencoder(**SMALL).partial_fit(X[:256]).partial_fit(X[256:512])
    sae.fit(X)
    fresh = ae.SparseAutoencoder(**SMALL).fit(X)
    assert len(sae.history_) == 2 and sae.n_epochs_ == 2
    np.testing.assert_array_equal(sae.encode(X), fresh.encode(X))
    sae.partial_fit(X[:128])  # the fitted model trains on, with a fresh optimizer
    assert len(sae.history_) == 3 and sae.history_["steps"].iloc[-1] == 2
    assert not np.array_equal(sae.encode(X), fresh.encode(X))


def test_save_and_load_a_partial_fit_model(tmp_path):
    X = activations()
    sae = ae.SparseAutoencoder("batchtopk", **SMALL)
    for lo in range(0, len(X), 256):
        sae.partial_fit(X[lo:lo + 256])
    sae.save(tmp_path / "sae.safetensors")
    back = ae.SparseAutoencoder.load(tmp_path / "sae.safetensors")
    assert back.architecture == "batchtopk" and back.n_latents == 96 and back.fvu_ is None
    np.testing.assert_array_equal(back.encode(X), sae.encode(X))
    for a, b in zip(back.encode(X, sparse=True), sae.encode(X, sparse=True)):
        np.testing.assert_array_equal(a, b)
    Z = sae.encode(X)
    np.testing.assert_array_equal(back.decode(Z), sae.decode(Z))
    np.testing.assert_array_equal(back.reconstruct(X), sae.reconstruct(X))
    back.partial_fit(X[:128])  # a loaded model trains on, with a fresh optimizer
    assert back.history_["steps"].iloc[-1] == 2


def test_partial_fit_refuses_non_finite_and_strided_tensors():
    torch = require("torch")
    X = activations()
    sae = ae.SparseAutoencoder("topk", **SMALL).partial_fit(X)
    before = sae.encode(X)
    t = torch.from_numpy(X.copy())
    t[5, 3] = float("inf")
    with pytest.raises(ValueError, match=r"partial_fit: X row 5, feature 3: inf is not a finite"):
        sae.partial_fit(t)
    np.testing.assert_array_equal(sae.encode(X), before)  # nothing was trained on it
    with pytest.raises(TypeError, match="not C-contiguous"):
        sae.partial_fit(torch.from_numpy(X).T.contiguous().T)
