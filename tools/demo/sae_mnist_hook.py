"""A sparse autoencoder on the activations of a PyTorch model, fed batch by batch from a forward
hook (docs/sae.md, "From Python, batch by batch"), and its latents' top-activating inputs as a
picture.

A small MLP (784-256-128-10) learns the MNIST digits of ../shared/data/mnist (the first 8,000;
the last 2,000 are held out). A hook on its first hidden layer (256 ReLU units) hands every
batch of a forward pass to ae.SparseAutoencoder.partial_fit, read in place; then each of the
16 latents that fire most often on the held-out digits is shown with the 10 held-out digits
that activate it most, one row per latent.

    PYTHONPATH=build/release/python python3 tools/demo/sae_mnist_hook.py \\
        [../shared/data/mnist] [sae-mnist-latents.png]

Needs torch and pillow besides ae (a benchmark or notebook environment; not ae's tests).
"""
import gzip
import os
import sys

import numpy as np
import torch
from PIL import Image

import ae


def idx(path):
    """An IDX file (MNIST's format) as a NumPy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main(folder, out):
    images = idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    labels = idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = torch.from_numpy(images.reshape(-1, 784))
    y = torch.from_numpy(labels)
    train, held = slice(0, 8000), slice(8000, 10000)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        order = torch.randperm(8000)
        for i in range(0, 8000, 128):
            batch = order[i:i + 128]
            loss = torch.nn.functional.cross_entropy(model(x[train][batch]), y[train][batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (model(x[held]).argmax(1) == y[held]).float().mean().item()
    print(f"MLP: held-out accuracy {accuracy:.3f}")

    # The hook: every forward pass's first hidden layer (batch, 256) goes to partial_fit as it is
    # (float32, contiguous: read in place, no copy).
    sae = ae.SparseAutoencoder("topk", n_latents=1024, k=16, batch_size=500, lr=2e-3,
                               lr_warmup=20, random_state=0)
    def feed(module, inputs, output):  # returns None: the layer's output stays as it is
        sae.partial_fit(output.detach())

    hook = model[1].register_forward_hook(feed)
    with torch.no_grad():
        for _ in range(40):
            order = torch.randperm(8000)
            for i in range(0, 8000, 1000):
                model(x[train][order[i:i + 1000]])
    hook.remove()
    print(f"SAE: {len(sae.history_)} partial_fit calls; last call FVU {sae.fvu_:.3f}, "
          f"L0 {sae.l0_:.1f}, dead latents {sae.n_dead_latents_}")

    with torch.no_grad():
        hidden = model[1](model[0](x[held])).numpy()
    codes = sae.encode(hidden)
    fvu = ((sae.reconstruct(hidden) - hidden) ** 2).sum() / ((hidden - hidden.mean(0)) ** 2).sum()
    print(f"held out: FVU {fvu:.3f}, L0 {(codes > 0).sum(1).mean():.1f}")

    # The 16 latents that fire most often, each with its 10 most activating held-out digits.
    latents = np.argsort(-(codes > 0).sum(0), kind="stable")[:16]
    rows = []
    for latent in latents:
        top = np.argsort(-codes[:, latent], kind="stable")[:10]
        rows.append(np.concatenate([images[8000 + i] for i in top], axis=1))
        digits = labels[8000 + top]
        print(f"latent {latent:4d}: fires on {(codes[:, latent] > 0).mean():.1%} of the held-out "
              f"digits; top 10 are {' '.join(map(str, digits))}")
    grid = np.concatenate(rows, axis=0)
    Image.fromarray((255 * (1 - grid)).astype(np.uint8)).resize(
        (grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(out)
    print(f"-> {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist",
         sys.argv[2] if len(sys.argv) > 2 else "sae-mnist-latents.png")
