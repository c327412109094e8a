"""ae's sparse autoencoders in the interpretability tools and theirs in ae, with the real
packages (sae-lens, eai-sparsify; test-only dependencies, installed by tools/workflow.sh interop):
each package loads ae's export and gives ae's codes and reconstructions within float32
rounding, and ae loads what each package saves and does the same. Skipped without the packages,
unless AE_REQUIRE_PEERS=1."""
import os
import warnings

import numpy as np
import pytest
from conftest import require

import ae
from test_sae import activations

# sparsify's decoder uses a Triton kernel when Triton is installed, which needs a GPU driver; its
# own switch selects the PyTorch implementation (embedding_bag).
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

SMALL = dict(n_latents=96, k=4, epochs=2, batch_size=64, lr_warmup=5, random_state=0)
# float32 rounding of sums over 24 inputs and up to 96 latents, relative to the largest value.
TOLERANCE = 1e-5


def close(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    assert err <= TOLERANCE, f"{what}: relative error {err:.2e}"


def same_support(got, want, what):
    mismatches = int(((np.asarray(got) != 0) != (np.asarray(want) != 0)).sum())
    assert mismatches == 0, f"{what}: {mismatches} latents active in one and not the other"


def peers():
    torch = require("torch")
    sae_lens = require("sae_lens")
    sparsify = require("sparsify")
    torch.manual_seed(0)
    return torch, sae_lens, sparsify


def data():
    # Shifted and scaled off the unit sphere, so that the folded mean_norm scale matters.
    return activations(n=600) * 4 + 1


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "jumprelu", "relu-l1"])
def test_sae_lens_loads_aes_export(tmp_path, architecture):
    torch, sae_lens, _ = peers()
    X = data()
    sae = ae.SparseAutoencoder(architecture, **SMALL).fit(X)
    sae.export(tmp_path / "sae")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sae_lens.SAE.load_from_disk(str(tmp_path / "sae"))
    expected = {"topk": "TopKSAE", "batchtopk": "JumpReLUSAE", "jumprelu": "JumpReLUSAE",
                "relu-l1": "StandardSAE"}[architecture]
    assert type(theirs).__name__ == expected
    with torch.no_grad():
        z = theirs.encode(torch.from_numpy(X))
        x_hat = theirs.decode(z)
    same_support(z.numpy(), sae.encode(X), "codes")
    close(z.numpy(), sae.encode(X), "codes")
    close(x_hat.numpy(), sae.reconstruct(X), "reconstructions")


def test_sparsify_loads_aes_topk_export(tmp_path):
    torch, _, sparsify = peers()
    X = data()
    sae = ae.SparseAutoencoder("topk", **SMALL).fit(X)
    sae.export(tmp_path / "sae", format="sparsify")
    theirs = sparsify.SparseCoder.load_from_disk(tmp_path / "sae")
    assert theirs.num_latents == 96 and theirs.cfg.k == 4
    with torch.no_grad():
        out = theirs.encode(torch.from_numpy(X))
        x_hat = theirs.decode(out.top_acts, out.top_indices)
        z = torch.zeros(len(X), 96).scatter_(1, out.top_indices, out.top_acts)
    same_support(z.numpy(), sae.encode(X), "codes")
    close(z.numpy(), sae.encode(X), "codes")
    close(x_hat.numpy(), sae.reconstruct(X), "reconstructions")


def randomised(torch, sae, X, threshold=None):
    """Every weight of a fresh package SAE random (b_dec the data's mean), so that a transpose
    or a bias read wrongly shows."""
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        sae.b_dec.copy_(torch.from_numpy(X.mean(0)))
        if threshold is not None:
            sae.threshold.copy_(torch.rand_like(sae.threshold) * threshold)
    return sae


@pytest.mark.parametrize("case", ["topk", "topk-rescaled", "jumprelu", "standard-no-b_dec"])
def test_ae_loads_sae_lens_saes(tmp_path, case):
    torch, sae_lens, _ = peers()
    X = data()
    d = X.shape[1]
    if case.startswith("topk"):
        cfg = sae_lens.TopKSAEConfig(d_in=d, d_sae=80, k=5,
                                     rescale_acts_by_decoder_norm=case == "topk-rescaled")
        theirs = randomised(torch, sae_lens.TopKSAE(cfg), X)
    elif case == "jumprelu":
        theirs = randomised(torch, sae_lens.JumpReLUSAE(sae_lens.JumpReLUSAEConfig(d_in=d, d_sae=80)),
                            X, threshold=2.0)
    else:
        cfg = sae_lens.StandardSAEConfig(d_in=d, d_sae=80, apply_b_dec_to_input=False)
        theirs = randomised(torch, sae_lens.StandardSAE(cfg), X)
    theirs.save_model(str(tmp_path / "sae"))
    with torch.no_grad():
        z = theirs.encode(torch.from_numpy(X)).numpy()
        x_hat = theirs.decode(theirs.encode(torch.from_numpy(X))).numpy()
    ours = ae.SparseAutoencoder.load(tmp_path / "sae", device="cpu")
    assert ours.n_features_in_ == d
    same_support(ours.encode(X), z, "codes")
    close(ours.encode(X), z, "codes")
    close(ours.reconstruct(X), x_hat, "reconstructions")


def test_ae_loads_sparsify_saes(tmp_path):
    torch, _, sparsify = peers()
    X = data()
    theirs = sparsify.SparseCoder(X.shape[1], sparsify.SparseCoderConfig(num_latents=80, k=5))
    with torch.no_grad():
        theirs.b_dec.copy_(torch.from_numpy(X.mean(0)))
        theirs.encoder.bias.copy_(torch.randn(80) * 0.1)
    theirs.save_to_disk(tmp_path / "sae")
    with torch.no_grad():
        out = theirs.encode(torch.from_numpy(X))
        x_hat = theirs.decode(out.top_acts, out.top_indices).numpy()
        z = torch.zeros(len(X), 80).scatter_(1, out.top_indices, out.top_acts).numpy()
    ours = ae.SparseAutoencoder.load(tmp_path / "sae", device="cpu")
    same_support(ours.encode(X), z, "codes")
    close(ours.encode(X), z, "codes")
    close(ours.reconstruct(X), x_hat, "reconstructions")


def test_export_errors(tmp_path):
    sae = ae.SparseAutoencoder("jumprelu", **SMALL).fit(data())
    with pytest.raises(ValueError, match="sparsify's SAEs are TopK, this one is jumprelu"):
        sae.export(tmp_path / "x", format="sparsify")
    with pytest.raises(ValueError, match="unknown value 'onnx'"):
        sae.export(tmp_path / "x", format="onnx")
    sae.export(tmp_path / "x")
    with pytest.raises(FileExistsError, match="exists already"):
        sae.export(tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        ae.SparseAutoencoder.load(tmp_path / "nothing-here", device="cpu")
