"""The PyTorch CPU peer of ae_bench_cpu_steps: one configuration per process, so that the peak RSS
is that configuration's. The model of a peer file (bench/peer_data.h: the same initial weights
and data ae uses), torch.set_num_threads(--threads), the usual training step (zero_grad, forward,
backward, Adam.step()), timed as ae times its steps: the median over groups of back-to-back steps
(wall clock) after a warm-up.

usage: python3 bench_cpu_peer.py --dir DIR --model ae --batch 256 --threads 2 [--samples 7]
                                 [--group-ms 200]
       python3 bench_cpu_peer.py --dir DIR --model ae --threads 2 --mnist MNIST_DIR [--batch 256]
                                 [--epochs 1]
The second form trains on the folder's MNIST images (the training set, else the test set, as ae
train reads them; 90% shuffled for training, 10% as a validation pass per epoch) and reports samples/s and the peak RSS.
Prints one JSON line (impl "pytorch").
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_peers  # noqa: E402


def median_step_us(step, samples, group_ms, warmup=5):
    def group_us(count):
        t0 = time.perf_counter()
        for _ in range(count):
            step()
        return (time.perf_counter() - t0) * 1e6

    group_us(warmup)
    one = max(group_us(3) / 3, 1.0)
    per_group = min(max(int(group_ms * 1e3 / one) + 1, 2), 10000)
    times = sorted(group_us(per_group) / per_group for _ in range(samples))
    return times[len(times) // 2]


def make_adam(model, lr):
    """PyTorch's fastest CPU Adam: the fused kernel where this version has one."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def mnist(args, peer, device):
    # The training images where the folder has them, else the test set (what ae train reads).
    names = [f"{n}-images-idx3-ubyte{z}" for n in ("train", "t10k") for z in (".gz", "")]
    found = [os.path.join(args.mnist, f) for f in names if os.path.exists(os.path.join(args.mnist, f))]
    if not found:
        sys.exit(f"bench_cpu_peer: no MNIST images in {args.mnist}")
    path = found[0]
    images = torch.from_numpy(read_idx_images(path).astype(np.float32) / 255.0)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(images.shape[0], generator=gen)
    n_val = images.shape[0] // 10
    train, val = images[order[n_val:]], images[order[:n_val]]
    model = bench_peers.new_model(peer, device)
    opt = make_adam(model, float(peer["meta"]["lr"]))
    t0 = time.perf_counter()
    seen = 0
    for _ in range(args.epochs):
        perm = torch.randperm(train.shape[0], generator=gen)
        for b in range(0, train.shape[0], args.batch):
            x = train[perm[b:b + args.batch]]
            opt.zero_grad(set_to_none=True)
            total = model.loss(x)[0]
            total.backward()
            opt.step()
            seen += x.shape[0]
        with torch.no_grad():
            val_loss = sum(float(model.loss(val[b:b + 1000])[0]) * min(1000, val.shape[0] - b)
                           for b in range(0, val.shape[0], 1000)) / val.shape[0]
    seconds = time.perf_counter() - t0
    return {"samples_per_s": seen / seconds, "seconds": seconds, "val_loss": val_loss}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True, help="folder of the peer files (ae_peer_files)")
    p.add_argument("--model", required=True, choices=bench_peers.MODELS)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--samples", type=int, default=7)
    p.add_argument("--group-ms", type=float, default=200)
    p.add_argument("--mnist", help="train on this MNIST folder instead of timing steps")
    p.add_argument("--epochs", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    peer = bench_peers.load_peer(args.dir, args.model, device)
    out = {"impl": "pytorch", "version": torch.__version__, "model": args.model,
           "batch": args.batch, "threads": torch.get_num_threads()}
    if args.mnist:
        out.update(mnist(args, peer, device))
    else:
        data = peer["data"]
        per_epoch = data.shape[0] // args.batch
        xs = [data[b * args.batch:(b + 1) * args.batch] for b in range(per_epoch)]
        model = bench_peers.new_model(peer, device)
        opt = make_adam(model, float(peer["meta"]["lr"]))
        acc = torch.zeros(())
        counter = [0]

        def step():
            x = xs[counter[0] % len(xs)]
            counter[0] += 1
            opt.zero_grad(set_to_none=True)
            total = model.loss(x)[0]
            total.backward()
            opt.step()
            acc.add_(total.detach())

        us = median_step_us(step, args.samples, args.group_ms)
        out.update({"us_per_step": us, "samples_per_s": args.batch / (us * 1e-6),
                    "loss": float(acc) / counter[0]})
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
