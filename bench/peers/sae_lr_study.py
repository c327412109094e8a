"""The study behind ae's default learning rate for the sparse autoencoders (docs/sae.md, "The
learning rate"): ae topk and batchtopk trained at multiples of the width-scaled rate
2e-4 · √(2^14 / n) · √(768 / d) and at Gao et al.'s 2e-4 · √(2^14 / n) (the old default), on
real and synthetic activations, scored by held-out FVU.

    python bench/peers/sae_lr_study.py [--ae build/release/tools/ae] [--work build/sae_lr_study]
                                       [--quick]

The sets (made once under --work): the two hidden layers of the MNIST MLP of
tools/demo/sae_mnist_hook.py (needs torch; left out without it), ResNet-18's embeddings of
CIFAR-10 (ADBench), MNIST's pixels, and sae_peers.py's synthetic recipe at d 64 to 768. n = 8 d,
k 8 (d < 256) or 16, batch 1024, ae's defaults otherwise. Prints one JSON line per run, then
the two tables of the docs; about 70 minutes on 2 cores (--quick: one small set, a minute).
"""
import argparse
import gzip
import json
import math
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sae_peers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data")
# multiple name -> factor of the width-scaled rate; "old" is Gao et al.'s rate, no width factor
MULTIPLES = {"old": None, "x1": 1.0, "x2": 2.0, "x4": 4.0}
BOTH = ("topk", "batchtopk")
# (set, kinds, steps, schedule, multiples)
GRID = ([(s, BOTH, 600, "cosine", ("old", "x1", "x2", "x4"))
         for s in ("syn-d64", "mnist-mlp128", "syn-d128", "mnist-mlp256", "syn-d256",
                   "syn-d768b")] +
        [(s, ("topk",), 600, "cosine", ("old", "x1", "x2", "x4"))
         for s in ("cifar10-r18", "syn-d768", "mnist-px")] +
        [(s, BOTH, 4800, sched, ("old", "x2", "x4"))
         for sched in ("cosine", "constant") for s in ("syn-d64", "mnist-mlp128")] +
        [("syn-d64", BOTH, 19200, "cosine", ("old", "x2", "x4"))])
QUICK = [("syn-d64", BOTH, 60, "cosine", ("old", "x2"))]


def save_split(work, name, x, dictionary=None):
    """A set's -train.npy and -held.npy (a fifth, after a fixed shuffle) and -dict.npy."""
    x = np.asarray(x, np.float32)[np.random.default_rng(0).permutation(len(x))]
    held = len(x) // 5
    np.save(os.path.join(work, f"{name}-train.npy"), x[held:])
    np.save(os.path.join(work, f"{name}-held.npy"), x[:held])
    if dictionary is not None:
        np.save(os.path.join(work, f"{name}-dict.npy"), dictionary)


def mnist_images():
    with gzip.open(os.path.join(SHARED, "mnist", "t10k-images-idx3-ubyte.gz"), "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255


def make_set(work, name):
    """Makes one set's files unless they exist; False when it cannot be made here."""
    if os.path.exists(os.path.join(work, f"{name}-train.npy")):
        return True
    synthetic = {"syn-d64": (64, 512, 8, 0.0, 5), "syn-d128": (128, 1024, 12, 0.05, 5),
                 "syn-d256": (256, 2048, 16, 0.05, 5), "syn-d768b": (768, 4096, 16, 0.05, 7)}
    if name in synthetic:
        d, features, l0, noise, seed = synthetic[name]
        rows = 60000 if d == 768 else 40000
        x, dictionary, _ = sae_peers.synthetic_activations(d, features, rows, l0, seed=seed,
                                                            noise_std=noise)
        save_split(work, name, x, dictionary)
    elif name == "syn-d768":  # the benchmark's big16k data: 16,384 rows for 16,384 features
        folder, _ = sae_peers.make_data("big16k", work)
        for src, dst in (("train", "train"), ("heldout", "held"), ("dictionary", "dict")):
            shutil.copyfile(os.path.join(folder, f"{src}.npy"),
                            os.path.join(work, f"{name}-{dst}.npy"))
    elif name == "cifar10-r18":
        path = os.path.join(SHARED, "adbench", "embeddings", "CV_by_ResNet18_CIFAR10_0.npz")
        save_split(work, name, np.load(path)["X"])
    elif name == "mnist-px":
        save_split(work, name, mnist_images())
    elif name.startswith("mnist-mlp"):
        try:
            import torch
        except ImportError:
            return False
        labels_path = os.path.join(SHARED, "mnist", "t10k-labels-idx1-ubyte.gz")
        with gzip.open(labels_path, "rb") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        x, y = torch.from_numpy(mnist_images()), torch.from_numpy(labels)
        torch.manual_seed(0)
        mlp = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                  torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
        for _ in range(5):
            order = torch.randperm(len(x))
            for i in range(0, len(x), 128):
                b = order[i:i + 128]
                loss = torch.nn.functional.cross_entropy(mlp(x[b]), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            h1 = mlp[1](mlp[0](x))
            h2 = mlp[3](mlp[2](h1))
        save_split(work, "mnist-mlp256", h1.numpy())
        save_split(work, "mnist-mlp128", h2.numpy())
    return True


def run_cell(ae, work, name, kind, steps, schedule, multiple):
    train = np.load(os.path.join(work, f"{name}-train.npy"), mmap_mode="r")
    rows, d = train.shape
    n, k, batch = 8 * d, 8 if d < 256 else 16, 1024
    per_epoch = math.ceil(rows / batch)
    epochs = max(1, round(steps / per_epoch))
    gao = 2e-4 * math.sqrt(16384 / n)
    lr = gao if MULTIPLES[multiple] is None else gao * MULTIPLES[multiple] * math.sqrt(768 / d)
    run_dir = os.path.join(work, "runs", f"{name}-{kind}-{steps}-{schedule}-{multiple}")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(run_dir), exist_ok=True)
    cmd = [ae, "train", "--model", kind, "--latents", str(n), "--k", str(k), "--batch-size",
           str(batch), "--epochs", str(epochs), "--validation", "0", "--lr", repr(lr),
           "--lr-schedule", schedule, "--data", os.path.join(work, f"{name}-train.npy"),
           "--out", run_dir]
    rc, _, _ = sae_peers.run_child(cmd, run_dir + ".log")
    if rc != 0:
        raise SystemExit(f"sae_lr_study: {' '.join(cmd)} failed ({rc}); see {run_dir}.log")
    w = sae_peers.ae_weights(run_dir, k, kind == "batchtopk")
    dict_path = os.path.join(work, f"{name}-dict.npy")
    held = np.load(os.path.join(work, f"{name}-held.npy"))
    figures = sae_peers.score(w, held, np.load(dict_path) if os.path.exists(dict_path) else None)
    return dict(set=name, d=d, n=n, k=k, kind=kind, planned=steps, steps=epochs * per_epoch,
                schedule=schedule, multiple=multiple, lr=lr, **figures)


def tables(results):
    """The per-run table and the geometric means over the old default, as docs/sae.md has them."""
    cells = {}
    for r in results:
        cells.setdefault((r["planned"], r["schedule"], r["set"], r["kind"]), {})[
            r["multiple"]] = r
    lines = ["| data | d | n | k | kind | steps | schedule | old | ×1 | ×2 | ×4 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    ratios = {}
    for key in sorted(cells, key=lambda c: (c[0], c[1], next(iter(cells[c].values()))["d"],
                                            c[2], c[3])):
        by = cells[key]
        first = next(iter(by.values()))
        lines.append(f"| {key[2]} | {first['d']} | {first['n']} | {first['k']} | {key[3]} | "
                     f"{first['steps']} | {key[1]} | " +
                     " | ".join(f"{by[m]['fvu']:.4f}" if m in by else "" for m in MULTIPLES) +
                     " |")
        if "old" in by:
            group = ratios.setdefault((key[0], key[1]), {})
            for m in MULTIPLES:
                if m in by and m != "old":
                    group.setdefault(m, []).append(math.log(by[m]["fvu"] / by["old"]["fvu"]))
    lines += ["", "| steps, schedule | rows | ×1 | ×2 | ×4 |", "|---|---|---|---|---|"]
    for (planned, schedule), group in sorted(ratios.items()):
        rows = max(len(v) for v in group.values())
        lines.append(f"| {planned:,}, {schedule} | {rows} | " + " | ".join(
            f"{math.exp(sum(group[m]) / len(group[m])):.3f}" if m in group else ""
            for m in ("x1", "x2", "x4")) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ae", default=sae_peers.find_ae())
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "sae_lr_study"))
    ap.add_argument("--quick", action="store_true", help="one small set, 60 steps")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    results = []
    for name, kinds, steps, schedule, multiples in (QUICK if a.quick else GRID):
        if not make_set(a.work, name):
            print(f"sae_lr_study: {name} left out (torch is needed to train the MNIST MLP)")
            continue
        for kind in kinds:
            for m in multiples:
                r = run_cell(a.ae, a.work, name, kind, steps, schedule, m)
                print(json.dumps(r), flush=True)
                results.append(r)
    print(tables(results))


if __name__ == "__main__":
    main()
