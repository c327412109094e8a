"""ae's sparse-autoencoder trainer beside SAELens and EleutherAI's sparsify, on the CPU or a GPU.

    python bench/peers/sae_peers.py [--small] [--sizes medium,big16k] [--reps 2] [--out r.json]
    python bench/peers/sae_peers.py --device cuda [--sizes gpu16k,gpu64k] [--deadline T]

One activation file per size, from a known dictionary (the recipe of
tests/common/synthetic_activations.h in numpy: F unit directions in d dimensions, Zipf firing,
firing correlated in groups through a Gaussian copula, noisy magnitudes). Every trainer trains on
the same training rows with the same d, n, k, batch size and number of samples, each in its own
process, the trainers alternated over the repeats; otherwise each keeps its own defaults
(learning rate and its schedule, AuxK, initialisation, normalisation), printed before the table.

Each trained SAE's weights come back to this process, which scores them all the same way in numpy
on held-out rows of the same recipe: FVU (around the held-out mean), L0, the dead fraction
(latents that fire on none of the held-out rows) and the recovery (the mean over the true
directions of their largest cosine similarity with a decoder row, as analysis/dictionary.h).

samples/s counts the training steps only, not the start, the imports or the data load:
  ae        the sum of metrics.json's epoch seconds (the trainer's clock around its epochs);
  SAELens   the wall clock around SAETrainer.fit() on an iterator of the batches;
  sparsify  the wall clock around the loop of its trainer's step (SparseCoder, its loss, the
            decoder-direction gradient projection, ScheduleFree SignSGD) on the same batches.
Peak RSS is the child process's maximum resident set, from /usr/bin/time (run_child).

--device cuda trains every trainer on the GPU (ae: `ae train --device cuda`, with --tf32 for
ae-topk-tf32; the torch peers with their data and model on it) at the gpu sizes: d 768, n 16384
and 65536, k 32, batch 4096, 3 epochs of 65,536 rows. Their data comes from the same recipe drawn
with torch on the GPU (seconds, where numpy takes minutes at F 16384; another random stream),
their first epoch is a warm-up (the CUDA context, cuBLAS, Triton's compilation) that samples/s
leaves out, and their recovery is not scored (48 steps learn no dictionary; its F x n cosines
would cost the GPU window seconds per run). sparsify's own default there is bf16 autocast (a
decorator of SparseCoder.forward); sparsify-topk-fp32 and -tf32 call the undecorated forward with
float32 GEMMs, TF32 off or on, to match ae's float32 and --tf32 rows. Each row says its precision.
--deadline (seconds since the epoch) starts no run after it; the JSON and its table (--out's .md)
are rewritten after every run, so a stopped benchmark keeps what it measured.

The peers need torch, sae-lens and eai-sparsify in --python's interpreter (bench/run_sae_peers.sh
makes one); when that interpreter lacks them, only ae runs. ae is $AE_CLI, else
build/release/tools/ae, else build/cpu/tools/ae.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import st_lite  # noqa: E402

# name: data (d, features F, true L0, training rows, held-out rows), SAE (n, k), batch, epochs,
# warm-up epochs (not timed), repeats (--reps overrides), whether the recovery is scored
SIZES = {
    "small": dict(d=64, features=256, l0=8, rows=16384, heldout=2048, n=512, k=8, batch=256,
                  epochs=2, warmup=0, reps=1, recovery=True),
    "medium": dict(d=64, features=512, l0=8, rows=65536, heldout=8192, n=1024, k=8,
                   batch=1024, epochs=12, warmup=0, reps=5, recovery=True),
    "big16k": dict(d=768, features=16384, l0=32, rows=16384, heldout=4096, n=16384, k=32,
                   batch=4096, epochs=1, warmup=0, reps=2, recovery=True),
    "big64k": dict(d=768, features=16384, l0=32, rows=16384, heldout=4096, n=65536, k=32,
                   batch=4096, epochs=1, warmup=0, reps=1, recovery=True),
    "gpu16k": dict(d=768, features=16384, l0=32, rows=65536, heldout=2048, n=16384, k=32,
                   batch=4096, epochs=3, warmup=1, reps=1, recovery=False),
    "gpu64k": dict(d=768, features=16384, l0=32, rows=65536, heldout=2048, n=65536, k=32,
                   batch=4096, epochs=3, warmup=1, reps=1, recovery=False),
}
DEFAULT_SIZES = {"cpu": "medium,big16k,big64k", "cuda": "gpu16k,gpu64k"}
# name: its precision on a GPU (on the CPU every trainer computes in float32) and the ae trainers
# its "ae / it" ratio may compare with, the first of them that ran.
TRAINERS = {
    "ae-topk": dict(precision="fp32", vs=[]),
    "ae-batchtopk": dict(precision="fp32", vs=[]),
    "ae-topk-tf32": dict(precision="tf32", vs=[]),
    "saelens-topk": dict(precision="fp32", vs=["ae-topk"]),
    "saelens-batchtopk": dict(precision="fp32", vs=["ae-batchtopk"]),
    "sparsify-topk": dict(precision="bf16 autocast", vs=["ae-topk-tf32", "ae-topk"]),
    "sparsify-topk-fp32": dict(precision="fp32", vs=["ae-topk"]),
    "sparsify-topk-tf32": dict(precision="tf32", vs=["ae-topk-tf32", "ae-topk"]),
}
# In the order they run (alternated over the repeats): on a GPU the pair of each one's fastest
# setting first, so that a benchmark stopped by its deadline has measured it.
DEFAULT_TRAINERS = {
    "cpu": ["ae-topk", "ae-batchtopk", "saelens-topk", "saelens-batchtopk", "sparsify-topk"],
    "cuda": ["ae-topk-tf32", "sparsify-topk", "ae-topk", "sparsify-topk-fp32",
             "sparsify-topk-tf32"],
}
PEER_MODULES = {"saelens": "import torch, sae_lens", "sparsify": "import torch, sparsify, schedulefree"}


# --- the data ---------------------------------------------------------------------------------
def zipf_firing_probability(features, mean_l0, exponent):
    """p_i = min(1, c / (i + 1)^s) with sum p_i = mean_l0 (the capped features are a prefix)."""
    w = np.arange(1, features + 1, dtype=np.float64) ** -exponent
    suffix = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    for k in range(features):
        c = (mean_l0 - k) / suffix[k]
        if c * w[k] <= 1 + 1e-12 and (k == 0 or c * w[k - 1] >= 1 - 1e-12):
            return np.minimum(1.0, c * w)
    return np.ones(features)


def synthetic_activations(d, features, rows, mean_l0, seed, zipf_exponent=1.0, correlation=0.3,
                          group=4, magnitude_noise=0.25, noise_std=0.0, device=None):
    """(x (rows, d) float32, dictionary (F, d) float32 unit rows, true L0).

    The (rows, F) draws are numpy's, or torch's on device (another random stream, the same
    recipe; the dictionary and the firing thresholds are numpy's either way)."""
    rng = np.random.default_rng(seed)
    dictionary = rng.standard_normal((features, d))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    p = zipf_firing_probability(features, mean_l0, zipf_exponent)
    normal = statistics.NormalDist()
    threshold = np.array([-np.inf if q >= 1 else normal.inv_cdf(1 - q) for q in p])
    groups = (features + group - 1) // group
    of_group = np.arange(features) // group
    normal, put, get = rng.standard_normal, (lambda a: a), (lambda a: a)
    if device is not None:
        import torch
        gen = torch.Generator(device).manual_seed(seed)

        def normal(shape):
            return torch.randn(shape, generator=gen, device=device, dtype=torch.float64)

        def put(a):
            return torch.as_tensor(a, device=device)

        def get(a):
            return a.cpu().numpy()
    x = np.empty((rows, d), np.float32)
    active = 0
    basis, limit, members = put(dictionary), put(threshold), put(of_group)
    for start in range(0, rows, 2048):
        block = min(rows, start + 2048) - start
        g = normal((block, groups))
        e = normal((block, features))
        fire = math.sqrt(correlation) * g[:, members] + math.sqrt(1 - correlation) * e > limit
        magnitude = (1 + magnitude_noise * normal((block, features))).clip(min=0.05)
        active += int(fire.sum())
        xb = (fire * magnitude) @ basis
        if noise_std > 0:
            xb = xb + noise_std * normal((block, d))
        x[start:start + block] = get(xb)
    return x, dictionary.astype(np.float32), active / rows


def make_data(size, work, device="cpu"):
    """The size's files in work: train.npy, heldout.npy, dictionary.npy (made once, reused);
    drawn with torch on device when it is a GPU."""
    s = SIZES[size]
    key = f"d{s['d']}-F{s['features']}-l0{s['l0']}-r{s['rows']}-h{s['heldout']}"
    gpu = None if device == "cpu" else device
    folder = os.path.join(work, key + ("-torch" if gpu else ""))
    if not os.path.exists(os.path.join(folder, "meta.json")):
        os.makedirs(folder, exist_ok=True)
        x, dictionary, true_l0 = synthetic_activations(
            s["d"], s["features"], s["rows"] + s["heldout"], s["l0"], seed=21, device=gpu)
        np.save(os.path.join(folder, "train.npy"), x[:s["rows"]])
        np.save(os.path.join(folder, "heldout.npy"), x[s["rows"]:])
        np.save(os.path.join(folder, "dictionary.npy"), dictionary)
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump({"true_l0": true_l0}, f)
    with open(os.path.join(folder, "meta.json")) as f:
        return folder, json.load(f)["true_l0"]


# --- scoring, the same for every trainer -------------------------------------------------------
def score(w, heldout, dictionary):
    """FVU, L0, dead fraction and recovery of one SAE (w: its numpy weights, see the children);
    no recovery (None) without a dictionary."""
    n = w["W_enc"].shape[0]
    fired = np.zeros(n, bool)
    err = active = 0.0
    for start in range(0, len(heldout), 1024):
        x = heldout[start:start + 1024].astype(np.float64)
        xn = ((x - w["shift"]) * w["scale"]).astype(np.float32)
        pre = (xn - w["b_dec"] if w["subtract_b_dec"] else xn) @ w["W_enc"].T + w["b_enc"]
        z = np.maximum(pre, 0)
        if w["select"] == "topk":
            keep = np.argpartition(-pre, w["k"] - 1, axis=1)[:, :w["k"]]
            mask = np.zeros_like(z, bool)
            np.put_along_axis(mask, keep, True, axis=1)
            z = np.where(mask, z, 0)
        else:  # a threshold: batchtopk at inference
            z = np.where(pre >= w["threshold"], z, 0)
        on = z > 0
        fired |= on.any(0)
        active += on.sum()
        xhat = (z @ w["W_dec"] + w["b_dec"]).astype(np.float64) / w["scale"] + w["shift"]
        err += ((x - xhat) ** 2).sum()
    total = ((heldout - heldout.mean(0, dtype=np.float64)) ** 2).sum()
    return dict(fvu=err / total, l0=active / len(heldout), dead_fraction=1 - fired.mean(),
                recovery=None if dictionary is None else recovery(w["W_dec"], dictionary))


def recovery(decoder, dictionary):
    """The mean over the true directions (F, d) of their largest cosine with a decoder row."""
    dec = decoder.astype(np.float64)
    dec /= np.maximum(np.linalg.norm(dec, axis=1, keepdims=True), np.finfo(np.float32).tiny)
    best = np.full(len(dictionary), -np.inf)
    for start in range(0, len(dec), 4096):  # (F, block) cosines
        best = np.maximum(best, (dictionary.astype(np.float64) @ dec[start:start + 4096].T).max(1))
    return float(np.clip(best, -1, 1).mean())


# --- the children ------------------------------------------------------------------------------
def run_child(cmd, log_path, env=None):
    """(exit status, peak RSS in MiB, wall seconds) of one child process.

    The child's ru_maxrss counts the pages it shared with this process between fork and exec,
    so a child of a large driver would report the driver's size: /usr/bin/time (small when it
    forks) measures it instead, when it is there."""
    rss_file = log_path + ".rss"
    timed = os.access("/usr/bin/time", os.X_OK)
    if timed:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rss_kib = usage.ru_maxrss
    if timed:
        with open(rss_file) as f:
            rss_kib = int(f.read().split()[-1])  # after "Command exited with non-zero status"
    return os.waitstatus_to_exitcode(status), rss_kib / 1024, wall


def ae_flags(trainer, s, device):
    """The `ae train` flags of an ae trainer (ae-KIND or ae-KIND-tf32) at size s."""
    flags = ["--model", trainer.split("-")[1], "--latents", str(s["n"]), "--k", str(s["k"]),
             "--batch-size", str(s["batch"]), "--epochs", str(s["epochs"]), "--validation", "0"]
    if device != "cpu":
        flags += ["--device", device]
    return flags + (["--tf32"] if trainer.endswith("-tf32") else [])


def precision(trainer, device):
    return "fp32" if device == "cpu" else TRAINERS[trainer]["precision"]


def ae_settings(trainer, s, device):
    return (f"ae train {' '.join(ae_flags(trainer, s, device))} ({precision(trainer, device)}); "
            f"its defaults: lr 4e-4*sqrt(2^14/n)*sqrt(768/d) with warm-up and cosine decay, AuxK "
            f"alpha 1/32, mean_norm input scaling, b_dec at the geometric median, unit-norm "
            f"decoder")


def train_ae(ae, trainer, s, folder, run_dir, device):
    """(exit status, peak RSS, wall seconds, timed seconds, timed samples, weights): the timed
    seconds are metrics.json's epoch seconds after the size's warm-up epochs."""
    cmd = [ae, "train"] + ae_flags(trainer, s, device) + [
        "--data", os.path.join(folder, "train.npy"), "--out", run_dir]
    env = {k: v for k, v in os.environ.items() if k != "AE_CPU_THREADS"}
    shutil.rmtree(run_dir, ignore_errors=True)  # ae train refuses to overwrite a run
    rc, rss, wall = run_child(cmd, run_dir + ".log", env)
    if rc != 0:
        return rc, rss, wall, None, None, None
    with open(os.path.join(run_dir, "metrics.json")) as f:
        timed = json.load(f)["epochs"][s["warmup"]:]
    seconds = sum(e["seconds"] for e in timed)
    samples = len(timed) * (s["rows"] // s["batch"]) * s["batch"]
    return rc, rss, wall, seconds, samples, ae_weights(run_dir, s["k"],
                                                       trainer.startswith("ae-batchtopk"))


def ae_weights(run_dir, k, batchtopk):
    """An ae run's SAE for score(): its latest checkpoint's weights and normaliser; batchtopk
    selects by its inference threshold."""
    t, _ = st_lite.load(os.path.join(run_dir, "latest.safetensors"))

    def arr(name, dtype="<f4"):
        return np.frombuffer(t[name].data, dtype).reshape(t[name].shape)
    w = dict(W_enc=arr("encoder.weight"), b_enc=arr("encoder.bias"),
             W_dec=arr("decoder.weight"), b_dec=arr("decoder.bias"),
             shift=arr("norm.shift", "<f8"), scale=arr("norm.scale", "<f8"),
             subtract_b_dec=True, k=k, select="topk", threshold=0.0)
    if batchtopk:
        w.update(select="threshold", threshold=float(arr("threshold")))
    return w


def child_main(trainer, size, folder, out, device):
    """A torch peer's training in this process: writes out (.npz weights) and out.json. The
    data and the model live on device; the steps of the size's warm-up epochs are not timed."""
    import torch
    s = SIZES[size]
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    x = torch.from_numpy(np.load(os.path.join(folder, "train.npy"))).to(device)
    per_epoch = len(x) // s["batch"]
    steps = s["epochs"] * per_epoch
    warm = s["warmup"] * per_epoch

    def batches():
        rng = np.random.default_rng(3)
        while True:
            order = torch.from_numpy(rng.permutation(len(x))).to(device)
            for start in range(0, len(x) - s["batch"] + 1, s["batch"]):
                yield x[order[start:start + s["batch"]]]

    def clock():  # seconds, once the device has done what was queued
        if device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter()

    d, n, k = s["d"], s["n"], s["k"]
    w = dict(shift=np.zeros(d), scale=np.ones(d), subtract_b_dec=True, k=k, select="topk",
             threshold=0.0)
    used = "fp32"
    if trainer.startswith("saelens"):
        os.environ["TQDM_DISABLE"] = "1"
        from sae_lens.config import SAETrainerConfig
        from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
        from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.training.sae_trainer import SAETrainer
        if trainer == "saelens-batchtopk":
            sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=d, d_sae=n, k=k,
                                                                  device=device))
        else:
            sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=n, k=k, device=device))
        cfg = SAETrainerConfig(total_training_samples=steps * s["batch"],
                               train_batch_size_samples=s["batch"], device=device,
                               lr_end=3e-4 / 10)  # its runner's default: lr / 10 (unused: the
        # default scheduler is constant)
        settings = f"{type(sae).__name__}({sae.cfg}); {cfg}"
        tr = SAETrainer(cfg, sae, data_provider=batches())
        warm = 0  # one call trains every step: all of them are timed
        t0 = clock()
        tr.fit()
        seconds = clock() - t0
        with torch.no_grad():
            if sae.cfg.rescale_acts_by_decoder_norm:
                sae.fold_W_dec_norm()  # the selection then needs no decoder norms
            w.update(W_enc=sae.W_enc.T, b_enc=sae.b_enc, W_dec=sae.W_dec, b_dec=sae.b_dec)
            if trainer == "saelens-batchtopk":
                w.update(select="threshold", threshold=float(sae.topk_threshold))
    else:
        if device == "cpu":
            os.environ["SPARSIFY_DISABLE_TRITON"] = "1"  # its switch for the eager decoder
        from schedulefree import ScheduleFreeWrapper
        from sparsify import SparseCoder, SparseCoderConfig
        from sparsify.sign_sgd import SignSGD
        sae = SparseCoder(d, SparseCoderConfig(num_latents=n, k=k), device=device,
                          dtype=torch.float32)
        # Its forward runs under bf16 autocast on a GPU with bf16 (a decorator of
        # SparseCoder.forward): its default. The -fp32 and -tf32 variants call the undecorated
        # forward, its GEMMs in float32 with TF32 off or on.
        variant = trainer[len("sparsify-topk"):]
        forward = sae if not variant else SparseCoder.forward.__wrapped__.__get__(sae)
        torch.set_float32_matmul_precision("high" if variant == "-tf32" else "highest")
        if device != "cpu":
            used = TRAINERS[trainer]["precision"]
            if not variant and not torch.cuda.is_bf16_supported():
                used = "fp32 (no bf16 here: its autocast is off)"
        lr = 5e-3 / (n / 2**14) ** 0.5  # its trainer's default for its default optimizer
        opt = ScheduleFreeWrapper(SignSGD([dict(params=sae.parameters(), lr=lr)]), momentum=0.95)
        opt.train()
        settings = (f"SparseCoder({sae.cfg}) on {device} ({used}); its trainer's defaults: "
                    f"signum (ScheduleFree SignSGD, momentum 0.95) at lr {lr:.3g} = "
                    f"5e-3/sqrt(n/2^14), loss FVU, auxk_alpha 0, b_dec at the first batch's "
                    f"mean, unit-norm decoder")
        it = batches()
        t0 = clock()
        for step in range(steps):
            if step == warm:
                t0 = clock()
            xb = next(it)
            if step == 0:
                sae.b_dec.data = xb.mean(0)
            sae.set_decoder_norm_to_unit_norm()
            fwd = forward(xb, dead_mask=None)
            fwd.fvu.backward()
            sae.remove_gradient_parallel_to_decoder_directions()
            opt.step()
            opt.zero_grad()
        seconds = clock() - t0
        opt.eval()  # ScheduleFree's averaged weights, as its trainer saves them
        w.update(W_enc=sae.encoder.weight, b_enc=sae.encoder.bias, W_dec=sae.W_dec,
                 b_dec=sae.b_dec)
    w = {key: (v.detach().cpu().numpy() if hasattr(v, "detach") else v) for key, v in w.items()}
    np.savez(out, **w)
    with open(out + ".json", "w") as f:
        json.dump({"seconds": seconds, "timed_steps": steps - warm, "precision": used,
                   "settings": settings}, f)


def train_peer(python, trainer, size, folder, run_dir, device):
    """(exit status, peak RSS, wall seconds, timed seconds, timed samples, weights, precision,
    settings) of a torch peer, trained by child_main in its own process."""
    out = run_dir + ".npz"
    cmd = [python, os.path.abspath(__file__), "--child", trainer, "--sizes", size,
           "--data-dir", folder, "--child-out", out, "--device", device]
    rc, rss, wall = run_child(cmd, run_dir + ".log")
    if rc != 0:
        return rc, rss, wall, None, None, None, "", ""
    with open(out + ".json") as f:
        info = json.load(f)
    z = np.load(out)
    w = {key: (z[key].item() if z[key].ndim == 0 else z[key]) for key in z.files}
    w["select"] = str(w["select"])
    return (rc, rss, wall, info["seconds"], info["timed_steps"] * SIZES[size]["batch"], w,
            info["precision"], info["settings"])


# --- the driver --------------------------------------------------------------------------------
def fail(message):
    """A bad argument: one line on stderr, exit status 2."""
    print(f"sae_peers: {message}", file=sys.stderr)
    sys.exit(2)


def find_ae():
    if os.environ.get("AE_CLI"):
        if not os.access(os.environ["AE_CLI"], os.X_OK):
            fail(f"AE_CLI={os.environ['AE_CLI']} is not an executable file")
        return os.environ["AE_CLI"]
    for rel in ("build/release/tools/ae", "build/cpu/tools/ae"):
        path = os.path.join(ROOT, rel)
        if os.access(path, os.X_OK):
            return path
    fail(f"no ae binary: set AE_CLI or build {ROOT}/build/release (or build/cpu)")


def family(trainer):
    return trainer.split("-")[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="the small size alone (under a minute)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", help=f"{', '.join(SIZES)} (default: cpu {DEFAULT_SIZES['cpu']}; "
                                    f"cuda {DEFAULT_SIZES['cuda']})")
    ap.add_argument("--trainers", help=f"{', '.join(TRAINERS)} (default: cpu "
                                       f"{','.join(DEFAULT_TRAINERS['cpu'])}; cuda "
                                       f"{','.join(DEFAULT_TRAINERS['cuda'])})")
    ap.add_argument("--reps", type=int, default=0, help="repeats (0: each size's own)")
    ap.add_argument("--python", default=sys.executable, help="the peers' interpreter")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "sae_peers"))
    ap.add_argument("--out", default="", help="a JSON file of every measurement and the medians "
                                              "(and its table in the same name's .md)")
    ap.add_argument("--deadline", type=float, default=0,
                    help="start no run after this time (seconds since the epoch; 0: none)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_main(a.child, a.sizes, a.data_dir, a.child_out, a.device)
    sizes = ["small"] if a.small else (a.sizes or DEFAULT_SIZES[a.device]).split(",")
    trainers = a.trainers.split(",") if a.trainers else DEFAULT_TRAINERS[a.device]
    for name in sizes + trainers:
        if name not in SIZES and name not in TRAINERS:
            fail(f"unknown size or trainer '{name}' (sizes {', '.join(SIZES)}; trainers "
                 f"{', '.join(TRAINERS)})")
    ae = find_ae()
    for fam, modules in PEER_MODULES.items():
        skipped = [t for t in trainers if family(t) == fam]
        if skipped and subprocess.run([a.python, "-c", modules], capture_output=True).returncode:
            trainers = [t for t in trainers if family(t) != fam]
            print(f"peers skipped ({', '.join(skipped)}): {a.python} cannot `{modules}`")
    peers = sorted({family(t) for t in trainers} - {"ae"})
    print(f"ae: {ae}; peers: {', '.join(peers) or 'none'} ({a.python}); device {a.device}; "
          f"{os.cpu_count()} threads; repeats: {a.reps or 'each size its own'}")
    os.makedirs(a.work, exist_ok=True)
    started = time.perf_counter()
    result = {"machine": {"cpus": os.cpu_count(), "ae": ae, "python": a.python},
              "device": a.device, "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(sys.argv), "sizes": {}}
    late = False
    for size in sizes:
        s = SIZES[size]
        late = late or (a.deadline and time.time() > a.deadline)
        if late:
            print(f"\n== {size}: not run, past the deadline")
            continue
        folder, true_l0 = make_data(size, a.work, a.device)
        heldout = np.load(os.path.join(folder, "heldout.npy"))
        dictionary = np.load(os.path.join(folder, "dictionary.npy")) if s["recovery"] else None
        samples = (s["epochs"] - s["warmup"]) * (s["rows"] // s["batch"]) * s["batch"]
        print(f"\n== {size}: d {s['d']}, n {s['n']}, k {s['k']}, batch {s['batch']}, "
              f"{s['epochs']} epoch(s) of {s['rows']} rows, {samples} timed samples (after "
              f"{s['warmup']} warm-up epoch(s)); data: F {s['features']} features, true L0 "
              f"{true_l0:.2f}; scored on {s['heldout']} held-out rows")
        runs = {t: [] for t in trainers}
        settings = {t: "" for t in trainers}
        # The recovery of n random unit directions: what a decoder scores before it learns.
        random_recovery = None if dictionary is None else recovery(
            np.random.default_rng(0).standard_normal((s["n"], s["d"])), dictionary)
        entry = result["sizes"][size] = dict(config=s, samples=samples, true_l0=true_l0,
                                             random_recovery=random_recovery,
                                             settings=settings, runs=runs, median={})
        for rep in range(a.reps or s["reps"]):
            for i in range(len(trainers)):
                t = trainers[(i + rep) % len(trainers)]  # alternated over the repeats
                late = late or (a.deadline and time.time() > a.deadline)
                if late:
                    print(f"  {t} #{rep + 1}: not run, past the deadline")
                    continue
                run_dir = os.path.join(a.work, f"{size}-{t}-{rep}")
                if family(t) == "ae":
                    rc, rss, wall, sec, timed, w = train_ae(ae, t, s, folder, run_dir, a.device)
                    used, settings[t] = precision(t, a.device), ae_settings(t, s, a.device)
                else:
                    rc, rss, wall, sec, timed, w, used, settings[t] = train_peer(
                        a.python, t, size, folder, run_dir, a.device)
                if rc != 0:
                    print(f"{t}: exit {rc}; the end of {run_dir}.log:")
                    with open(run_dir + ".log") as f:
                        print("".join(f.readlines()[-15:]))
                    continue
                m = dict(samples_per_s=timed / sec, train_seconds=sec, process_seconds=wall,
                         peak_rss_mib=rss, precision=used, **score(w, heldout, dictionary))
                runs[t].append(m)
                rec = "" if m["recovery"] is None else f", recovery {m['recovery']:.4f}"
                print(f"  {t} #{rep + 1} ({used}): {m['samples_per_s']:.0f} samples/s, RSS "
                      f"{rss:.0f} MiB, FVU {m['fvu']:.4f}, L0 {m['l0']:.2f}, dead "
                      f"{m['dead_fraction']:.3f}{rec}", flush=True)
                entry["median"] = medians(runs)
                write(a.out, result)  # after each run: a stopped benchmark keeps what it measured
        if random_recovery is not None:
            print(f"\nrecovery of {s['n']} random directions: {random_recovery:.4f}")
        print("settings:")
        for t in trainers:
            print(f"  {t}: {settings[t]}")
    result["seconds"] = time.perf_counter() - started
    result["summary"] = summary(result)
    write(a.out, result)
    print(f"\n{table(result)}\n\n{result['seconds']:.0f} s in all\nsummary: {result['summary']}")
    missing = [(size, t) for size in sizes for t in trainers
               if t not in result["sizes"].get(size, {}).get("median", {})]
    return 0 if not missing else 3 if late else 1


def medians(runs):
    """Each trainer's median of every figure over its runs (a figure that is not a number: the
    first run's)."""
    return {t: {key: (statistics.median(m[key] for m in r)
                      if isinstance(r[0][key], (int, float)) else r[0][key]) for key in r[0]}
            for t, r in runs.items() if r}


def write(out, result):
    """The JSON in out and its table with the notes in out's .md (nothing without out)."""
    if not out:
        return
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(f"{table(result)}\n\n{notes(result)}\n")


def versus(trainer, med):
    """The ae trainer a peer's "ae / it" ratio compares with in med (None for ae's own rows)."""
    return next((v for v in TRAINERS[trainer]["vs"] if v in med), None)


def summary(result):
    """One line: every peer's ratio, ae's samples/s over its, at each size."""
    parts = []
    for size, r in result["sizes"].items():
        med = r["median"]
        ratios = [f"{v} ({med[v]['precision']}) / {t} ({m['precision']}) "
                  f"{med[v]['samples_per_s'] / m['samples_per_s']:.2f}x"
                  for t, m in med.items() if (v := versus(t, med))]
        parts.append(f"{size}: {'; '.join(ratios) or 'no pair measured'}")
    return " | ".join(parts) or "nothing measured"


def table(result):
    """The medians in markdown; ae / it: ae's samples/s over the row's (versus())."""
    rows = ["| size | trainer | precision | samples/s | ae / it | peak RSS MiB | FVU | L0 | dead "
            "| recovery |", "|---|---|---|---|---|---|---|---|---|---|"]
    for size, r in result["sizes"].items():
        med = r["median"]
        for t, m in med.items():
            v = versus(t, med)
            ratio = f"{med[v]['samples_per_s'] / m['samples_per_s']:.2f}" if v else ""
            rec = "" if m["recovery"] is None else f"{m['recovery']:.4f}"
            rows.append(f"| {size} | {t} | {m['precision']} | {m['samples_per_s']:.0f} | "
                        f"{ratio} | {m['peak_rss_mib']:.0f} | {m['fvu']:.4f} | {m['l0']:.2f} | "
                        f"{m['dead_fraction']:.3f} | {rec} |")
    return "\n".join(rows)


def notes(result):
    """What the table's figures are, from the result's sizes and device."""
    lines = [f"{result['date']}, device {result['device']}, {result['machine']['cpus']} CPU "
             f"threads. samples/s: the training steps only (ae: metrics.json's epoch seconds; "
             f"the torch peers: the wall clock around their steps, after a synchronisation on "
             f"a GPU), after each size's warm-up epochs. \"ae / it\": ae's samples/s over the "
             f"row's, against the ae row of its precision: on a GPU sparsify's own bf16 autocast "
             f"against ae's TF32, its fastest (ae has no bf16 training); on the CPU, where "
             f"every row is float32, topk against topk, batchtopk against batchtopk."]
    for size, r in result["sizes"].items():
        c = r["config"]
        lines.append(f"{size}: d {c['d']}, n {c['n']}, k {c['k']}, batch {c['batch']}, "
                     f"{c['epochs']} epoch(s) of {c['rows']} rows, {r['samples']} timed samples "
                     f"after {c['warmup']} warm-up epoch(s); data: F {c['features']} true "
                     f"features (true L0 {r['true_l0']:.2f})"
                     + (", drawn with torch on the GPU (the recipe of the CPU sizes, another "
                        "random stream)" if result["device"] != "cpu" else "")
                     + ("; recovery not scored (too few steps to learn a dictionary; the speed "
                        "comparison needs the realistic sizes, not a learned dictionary)"
                        if r["random_recovery"] is None else
                        f"; n random directions recover {r['random_recovery']:.4f}"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
