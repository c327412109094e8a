"""PyTorch versions of the five benchmarked ae models (bench/peer_data.h), built from a peer file's
metadata and initial weights, so that both frameworks start from the same parameters.

Every model matches ae's layer for layer: weights stored (out, in) as nn.Linear stores them, the
same activations, untied decoders, and ae's one reduction: each per-sample term summed over the
features and averaged over the batch. The penalties are ae's:
  sparse       beta * sum_j KL(rho || rho_hat_j), rho_hat the batch mean of the sigmoid code,
               clamped to [rho_eps, 1 - rho_eps]
  contractive  lambda * sum over encoder layers l of ||J_{h_(l-1)} h_l||_F^2, averaged over the batch:
               in closed form (what ae computes, ContractiveClosedForm) or through autograd's
               per-sample Jacobians, the usual way (contractive_jacobian)
  vae          reconstruction + KL(q(z|x) || N(0, I)) in closed form, log sigma^2 soft-clamped
               into (logvar_min, logvar_max) as ae::soft_clamp does (the identity up to
               logvar_margin from either end, a softsign beyond)

loss(x, noise) returns (total, reconstruction, penalty, kl); `noise` is the step's noise from the
peer file (the dae's keep mask, the vae's eps), or None to draw it with torch's generator.
"""
import torch
import torch.nn.functional as F
from torch import nn


def _soft_clamp(x, lo, hi, margin):
    """ae::soft_clamp (core/ops.h); a margin of 0 is the hard clamp of older peer files."""
    if margin <= 0:
        return x.clamp(lo, hi)
    inner = x.clamp(lo + margin, hi - margin)
    past = x - inner
    return inner + margin * past / (margin + past.abs())


def _linear(weight, bias):
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


class Autoencoder(nn.Module):
    """784-512-256-32 with sigmoid layers; the ae, dae, sparse and contractive models."""

    def __init__(self, meta, params, jacobian_penalty=False):
        super().__init__()
        self.kind = meta["model"]
        widths = [int(w) for w in meta["widths"].split(",")]
        depth = len(widths) - 1
        self.encoder = nn.ModuleList(
            _linear(params[f"encoder.{i}.weight"], params[f"encoder.{i}.bias"]) for i in range(depth))
        self.decoder = nn.ModuleList(
            _linear(params[f"decoder.{i}.weight"], params[f"decoder.{i}.bias"]) for i in range(depth))
        self.noise_level = float(meta["noise_level"])
        self.weight = float(meta["penalty_weight"])
        self.rho = float(meta["sparsity_target"])
        self.rho_eps = float(meta["rho_eps"])
        self.jacobian_penalty = jacobian_penalty

    def loss(self, x, noise=None):
        inp = x
        if self.kind == "dae":
            keep = noise if noise is not None else torch.rand_like(x) > self.noise_level
            inp = x * keep.to(x.dtype)
        hs = []
        h = inp
        for layer in self.encoder:  # sigmoid hidden layers and a sigmoid code
            h = torch.sigmoid(layer(h))
            hs.append(h)
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i + 1 < len(self.decoder):
                h = torch.sigmoid(h)
        reconstruction = _bce(h, x)
        penalty = torch.zeros((), device=x.device, dtype=x.dtype)
        if self.kind == "sparse":
            rho_hat = hs[-1].mean(0).clamp(self.rho_eps, 1 - self.rho_eps)
            rho = self.rho
            kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
            penalty = self.weight * kl.sum()
        elif self.kind == "contractive":
            inputs = [inp] + hs[:-1]
            terms = [(contractive_jacobian if self.jacobian_penalty else contractive_closed_form)(
                layer, h_in, h_out) for layer, h_in, h_out in zip(self.encoder, inputs, hs)]
            penalty = self.weight * sum(terms)
        total = reconstruction + penalty
        return total, reconstruction.detach(), penalty.detach(), torch.zeros_like(total)


def contractive_closed_form(layer, h_in, h_out):
    """||J||_F^2 of h = sigmoid(h_in W^T + b), batch mean: sum_k (h_k (1 - h_k))^2 |W_k|^2."""
    w_sq = (layer.weight ** 2).sum(1)
    return ((h_out * (1 - h_out)) ** 2 @ w_sq).sum() / h_out.shape[0]


def _per_sample_jacobians(f, h_in):
    """(batch, out, in): the Jacobian of f at each row of h_in, differentiable (create_graph)."""
    try:
        from torch.func import jacrev, vmap  # PyTorch >= 2.0
    except ImportError:
        jacrev = vmap = None
    if vmap is not None:
        return vmap(jacrev(f))(h_in)
    # Samples are independent, so the Jacobian of the batch sum over rows is (out, batch, in).
    j = torch.autograd.functional.jacobian(lambda h: f(h).sum(0), h_in, create_graph=True,
                                           vectorize=True)
    return j.permute(1, 0, 2)


def contractive_jacobian(layer, h_in, h_out):
    """The same penalty through autograd's Jacobians: what a PyTorch user would write."""
    jac = _per_sample_jacobians(lambda v: torch.sigmoid(F.linear(v, layer.weight, layer.bias)), h_in)
    return (jac ** 2).sum() / h_in.shape[0]


class Vae(nn.Module):
    """784-512-20: a relu trunk, mu and log sigma^2 heads, a 20-512-784 relu decoder."""

    def __init__(self, meta, params):
        super().__init__()
        widths = [int(w) for w in meta["widths"].split(",")]
        trunk = len(widths) - 1
        self.encoder = nn.ModuleList(
            _linear(params[f"encoder.{i}.weight"], params[f"encoder.{i}.bias"]) for i in range(trunk))
        self.mu = _linear(params["mu.weight"], params["mu.bias"])
        self.logvar = _linear(params["logvar.weight"], params["logvar.bias"])
        self.decoder = nn.ModuleList(
            _linear(params[f"decoder.{i}.weight"], params[f"decoder.{i}.bias"])
            for i in range(trunk + 1))
        self.logvar_min = float(meta["logvar_min"])
        self.logvar_max = float(meta["logvar_max"])
        self.logvar_margin = float(meta.get("logvar_margin", 0))

    def loss(self, x, noise=None):
        h = x
        for layer in self.encoder:
            h = torch.relu(layer(h))
        mu = self.mu(h)
        logvar = _soft_clamp(self.logvar(h), self.logvar_min, self.logvar_max, self.logvar_margin)
        eps = noise if noise is not None else torch.randn_like(mu)
        z = mu + torch.exp(logvar / 2) * eps
        kl = -0.5 * (1 + logvar - mu * mu - torch.exp(logvar)).sum() / x.shape[0]
        h = z
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i + 1 < len(self.decoder):
                h = torch.relu(h)
        reconstruction = _bce(h, x)
        total = reconstruction + kl
        return total, reconstruction.detach(), torch.zeros_like(total), kl.detach()


def build(meta, params, jacobian_penalty=False):
    """The peer of the model a peer file describes; `params` maps ae's names to torch tensors."""
    if meta["model"] == "vae":
        return Vae(meta, params)
    return Autoencoder(meta, params, jacobian_penalty)
