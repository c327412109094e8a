"""ae's sparse-autoencoder trainer beside SAELens and EleutherAI's sparsify, on the CPU.

    python bench/peers/sae_peers.py [--small] [--sizes medium,big16k] [--reps 2] [--out r.json]

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

The peers need torch, sae-lens and eai-sparsify in --python's interpreter (bench/run_sae_peers.sh
makes one); when that interpreter lacks them, only ae runs. ae is $AE_CLI, else
build/release/tools/ae, else build/cpu/tools/ae.
"""
import argparse
import json
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
# repeats (--reps overrides)
SIZES = {
    "small": dict(d=64, features=256, l0=8, rows=16384, heldout=2048, n=512, k=8, batch=256,
                  epochs=2, reps=1),
    "medium": dict(d=64, features=512, l0=8, rows=65536, heldout=8192, n=1024, k=8,
                   batch=1024, epochs=12, reps=2),
    "big16k": dict(d=768, features=16384, l0=32, rows=16384, heldout=4096, n=16384, k=32,
                   batch=4096, epochs=1, reps=2),
    "big64k": dict(d=768, features=16384, l0=32, rows=16384, heldout=4096, n=65536, k=32,
                   batch=4096, epochs=1, reps=1),
}
TRAINERS = ["ae-topk", "ae-batchtopk", "saelens-topk", "saelens-batchtopk", "sparsify-topk"]
PEER_MODULES = "import torch, sae_lens, sparsify, schedulefree"


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
                          group=4, magnitude_noise=0.25, noise_std=0.0):
    """(x (rows, d) float32, dictionary (F, d) float32 unit rows, true L0)."""
    rng = np.random.default_rng(seed)
    dictionary = rng.standard_normal((features, d))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    p = zipf_firing_probability(features, mean_l0, zipf_exponent)
    normal = statistics.NormalDist()
    threshold = np.array([-np.inf if q >= 1 else normal.inv_cdf(1 - q) for q in p])
    groups = (features + group - 1) // group
    of_group = np.arange(features) // group
    x = np.empty((rows, d), np.float32)
    active = 0
    for start in range(0, rows, 2048):
        block = min(rows, start + 2048) - start
        g = rng.standard_normal((block, groups))
        e = rng.standard_normal((block, features))
        fire = np.sqrt(correlation) * g[:, of_group] + np.sqrt(1 - correlation) * e > threshold
        magnitude = np.maximum(1 + magnitude_noise * rng.standard_normal((block, features)), 0.05)
        active += int(fire.sum())
        xb = (fire * magnitude) @ dictionary
        if noise_std > 0:
            xb += noise_std * rng.standard_normal((block, d))
        x[start:start + block] = xb
    return x, dictionary.astype(np.float32), active / rows


def make_data(size, work):
    """The size's files in work: train.npy, heldout.npy, dictionary.npy (made once, reused)."""
    s = SIZES[size]
    key = f"d{s['d']}-F{s['features']}-l0{s['l0']}-r{s['rows']}-h{s['heldout']}"
    folder = os.path.join(work, key)
    if not os.path.exists(os.path.join(folder, "meta.json")):
        os.makedirs(folder, exist_ok=True)
        x, dictionary, true_l0 = synthetic_activations(
            s["d"], s["features"], s["rows"] + s["heldout"], s["l0"], seed=21)
        np.save(os.path.join(folder, "train.npy"), x[:s["rows"]])
        np.save(os.path.join(folder, "heldout.npy"), x[s["rows"]:])
        np.save(os.path.join(folder, "dictionary.npy"), dictionary)
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump({"true_l0": true_l0}, f)
    with open(os.path.join(folder, "meta.json")) as f:
        return folder, json.load(f)["true_l0"]


# --- scoring, the same for every trainer -------------------------------------------------------
def score(w, heldout, dictionary):
    """FVU, L0, dead fraction and recovery of one SAE (w: its numpy weights, see the children)."""
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
                recovery=recovery(w["W_dec"], dictionary))


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


def ae_settings(kind, s):
    return (f"ae train --model {kind} --latents {s['n']} --k {s['k']} "
            f"--batch-size {s['batch']} --epochs {s['epochs']} --validation 0; its defaults: "
            f"lr 2e-4/sqrt(n/2^14) with warm-up and cosine decay, AuxK alpha 1/32, mean_norm "
            f"input scaling, b_dec at the geometric median, unit-norm decoder")


def train_ae(ae, kind, s, folder, run_dir):
    cmd = [ae, "train", "--model", kind, "--latents", str(s["n"]), "--k", str(s["k"]),
           "--batch-size", str(s["batch"]), "--epochs", str(s["epochs"]), "--validation", "0",
           "--data", os.path.join(folder, "train.npy"), "--out", run_dir]
    env = {k: v for k, v in os.environ.items() if k != "AE_CPU_THREADS"}
    shutil.rmtree(run_dir, ignore_errors=True)  # ae train refuses to overwrite a run
    rc, rss, wall = run_child(cmd, run_dir + ".log", env)
    if rc != 0:
        return rc, rss, wall, None, None
    with open(os.path.join(run_dir, "metrics.json")) as f:
        seconds = sum(e["seconds"] for e in json.load(f)["epochs"])
    t, _ = st_lite.load(os.path.join(run_dir, "latest.safetensors"))

    def arr(name, dtype="<f4"):
        return np.frombuffer(t[name].data, dtype).reshape(t[name].shape)
    w = dict(W_enc=arr("encoder.weight"), b_enc=arr("encoder.bias"),
             W_dec=arr("decoder.weight"), b_dec=arr("decoder.bias"),
             shift=arr("norm.shift", "<f8"), scale=arr("norm.scale", "<f8"),
             subtract_b_dec=True, k=s["k"], select="topk", threshold=0.0)
    if kind == "batchtopk":
        w.update(select="threshold", threshold=float(arr("threshold")))
    return rc, rss, wall, seconds, w


def child_main(trainer, size, folder, out):
    """A torch peer's training in this process: writes out (.npz weights) and out.json."""
    import torch
    s = SIZES[size]
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    x = np.load(os.path.join(folder, "train.npy"))
    steps = s["epochs"] * (len(x) // s["batch"])

    def batches():
        rng = np.random.default_rng(3)
        while True:
            order = rng.permutation(len(x))
            for start in range(0, len(x) - s["batch"] + 1, s["batch"]):
                yield torch.from_numpy(x[order[start:start + s["batch"]]])

    d, n, k = s["d"], s["n"], s["k"]
    w = dict(shift=np.zeros(d), scale=np.ones(d), subtract_b_dec=True, k=k, select="topk",
             threshold=0.0)
    if trainer.startswith("saelens"):
        os.environ["TQDM_DISABLE"] = "1"
        from sae_lens.config import SAETrainerConfig
        from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
        from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.training.sae_trainer import SAETrainer
        if trainer == "saelens-batchtopk":
            sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=d, d_sae=n, k=k))
        else:
            sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=n, k=k))
        cfg = SAETrainerConfig(total_training_samples=steps * s["batch"],
                               train_batch_size_samples=s["batch"], device="cpu",
                               lr_end=3e-4 / 10)  # its runner's default: lr / 10 (unused: the
        # default scheduler is constant)
        settings = f"{type(sae).__name__}({sae.cfg}); {cfg}"
        tr = SAETrainer(cfg, sae, data_provider=batches())
        t0 = time.perf_counter()
        tr.fit()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            if sae.cfg.rescale_acts_by_decoder_norm:
                sae.fold_W_dec_norm()  # the selection then needs no decoder norms
            w.update(W_enc=sae.W_enc.T, b_enc=sae.b_enc, W_dec=sae.W_dec, b_dec=sae.b_dec)
            if trainer == "saelens-batchtopk":
                w.update(select="threshold", threshold=float(sae.topk_threshold))
    else:
        os.environ["SPARSIFY_DISABLE_TRITON"] = "1"  # its switch for the eager decoder (no GPU)
        from schedulefree import ScheduleFreeWrapper
        from sparsify import SparseCoder, SparseCoderConfig
        from sparsify.sign_sgd import SignSGD
        sae = SparseCoder(d, SparseCoderConfig(num_latents=n, k=k), device="cpu",
                          dtype=torch.float32)
        lr = 5e-3 / (n / 2**14) ** 0.5  # its trainer's default for its default optimizer
        opt = ScheduleFreeWrapper(SignSGD([dict(params=sae.parameters(), lr=lr)]), momentum=0.95)
        opt.train()
        settings = (f"SparseCoder({sae.cfg}); its trainer's defaults: signum (ScheduleFree "
                    f"SignSGD, momentum 0.95) at lr {lr:.3g} = 5e-3/sqrt(n/2^14), loss FVU, "
                    f"auxk_alpha 0, b_dec at the first batch's mean, unit-norm decoder")
        it = batches()
        t0 = time.perf_counter()
        for step in range(steps):
            xb = next(it)
            if step == 0:
                sae.b_dec.data = xb.mean(0)
            sae.set_decoder_norm_to_unit_norm()
            fwd = sae(xb, dead_mask=None)
            fwd.fvu.backward()
            sae.remove_gradient_parallel_to_decoder_directions()
            opt.step()
            opt.zero_grad()
        seconds = time.perf_counter() - t0
        opt.eval()  # ScheduleFree's averaged weights, as its trainer saves them
        w.update(W_enc=sae.encoder.weight, b_enc=sae.encoder.bias, W_dec=sae.W_dec,
                 b_dec=sae.b_dec)
    w = {key: (v.detach().numpy() if hasattr(v, "detach") else v) for key, v in w.items()}
    np.savez(out, **w)
    with open(out + ".json", "w") as f:
        json.dump({"seconds": seconds, "steps": steps, "settings": settings}, f)


def train_peer(python, trainer, size, folder, run_dir):
    out = run_dir + ".npz"
    cmd = [python, os.path.abspath(__file__), "--child", trainer, "--sizes", size,
           "--data-dir", folder, "--child-out", out]
    rc, rss, wall = run_child(cmd, run_dir + ".log")
    if rc != 0:
        return rc, rss, wall, None, None, ""
    with open(out + ".json") as f:
        info = json.load(f)
    z = np.load(out)
    w = {key: (z[key].item() if z[key].ndim == 0 else z[key]) for key in z.files}
    w["select"] = str(w["select"])
    return rc, rss, wall, info["seconds"], w, info["settings"]


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="the small size alone (under a minute)")
    ap.add_argument("--sizes", default="medium,big16k,big64k", help=",".join(SIZES))
    ap.add_argument("--trainers", default=",".join(TRAINERS))
    ap.add_argument("--reps", type=int, default=0, help="repeats (0: each size's own)")
    ap.add_argument("--python", default=sys.executable, help="the peers' interpreter")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "sae_peers"))
    ap.add_argument("--out", default="", help="a JSON file of every measurement and the medians")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_main(a.child, a.sizes, a.data_dir, a.child_out)
    sizes = ["small"] if a.small else a.sizes.split(",")
    trainers = a.trainers.split(",")
    for name in sizes + trainers:
        if name not in SIZES and name not in TRAINERS:
            fail(f"unknown size or trainer '{name}' (sizes {', '.join(SIZES)}; trainers "
                 f"{', '.join(TRAINERS)})")
    ae = find_ae()
    have_peers = subprocess.run([a.python, "-c", PEER_MODULES], capture_output=True).returncode == 0
    if not have_peers:
        skipped = [t for t in trainers if not t.startswith("ae-")]
        trainers = [t for t in trainers if t.startswith("ae-")]
        print(f"peers skipped ({', '.join(skipped)}): {a.python} cannot `{PEER_MODULES}`")
    print(f"ae: {ae}; peers: {a.python if have_peers else 'none'}; {os.cpu_count()} threads; "
          f"repeats: {a.reps or 'each size its own'}")
    os.makedirs(a.work, exist_ok=True)
    started = time.perf_counter()
    result = {"machine": {"cpus": os.cpu_count(), "ae": ae, "python": a.python},
              "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "sizes": {}}
    for size in sizes:
        s = SIZES[size]
        folder, true_l0 = make_data(size, a.work)
        heldout = np.load(os.path.join(folder, "heldout.npy"))
        dictionary = np.load(os.path.join(folder, "dictionary.npy"))
        samples = s["epochs"] * (s["rows"] // s["batch"]) * s["batch"]
        print(f"\n== {size}: d {s['d']}, n {s['n']}, k {s['k']}, batch {s['batch']}, {samples} "
              f"training samples ({s['epochs']} epoch(s) of {s['rows']} rows); data: F "
              f"{s['features']} features, true L0 {true_l0:.2f}; scored on {s['heldout']} "
              f"held-out rows")
        runs = {t: [] for t in trainers}
        settings = {t: "" for t in trainers}
        for rep in range(a.reps or s["reps"]):
            for i in range(len(trainers)):
                t = trainers[(i + rep) % len(trainers)]  # alternated over the repeats
                run_dir = os.path.join(a.work, f"{size}-{t}-{rep}")
                if t.startswith("ae-"):
                    rc, rss, wall, sec, w = train_ae(ae, t[3:], s, folder, run_dir)
                    settings[t] = ae_settings(t[3:], s)
                else:
                    rc, rss, wall, sec, w, settings[t] = train_peer(a.python, t, size, folder,
                                                                    run_dir)
                if rc != 0:
                    print(f"{t}: exit {rc}; the end of {run_dir}.log:")
                    with open(run_dir + ".log") as f:
                        print("".join(f.readlines()[-15:]))
                    continue
                m = dict(samples_per_s=samples / sec, train_seconds=sec, process_seconds=wall,
                         peak_rss_mib=rss, **score(w, heldout, dictionary))
                runs[t].append(m)
                print(f"  {t} #{rep + 1}: {m['samples_per_s']:.0f} samples/s, RSS "
                      f"{rss:.0f} MiB, FVU {m['fvu']:.4f}, L0 {m['l0']:.2f}, dead "
                      f"{m['dead_fraction']:.3f}, recovery {m['recovery']:.4f}", flush=True)
        med = {t: {key: statistics.median(r[key] for r in runs[t]) for key in runs[t][0]}
               for t in trainers if runs[t]}
        # The recovery of n random unit directions: what a decoder scores before it learns.
        random_recovery = recovery(np.random.default_rng(0).standard_normal((s["n"], s["d"])),
                                   dictionary)
        result["sizes"][size] = dict(config=s, samples=samples, true_l0=true_l0,
                                     random_recovery=random_recovery,
                                     settings=settings, runs=runs, median=med)
        print(f"\nrecovery of {s['n']} random directions: {random_recovery:.4f}\nsettings:")
        for t in trainers:
            print(f"  {t}: {settings[t]}")
        if a.out:  # after each size, so that a stopped run keeps the sizes it finished
            with open(a.out, "w") as f:
                json.dump(result, f, indent=1)
    result["seconds"] = time.perf_counter() - started
    print(f"\n{table(result)}\n\n{result['seconds']:.0f} s in all")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    missing = [(size, t) for size, r in result["sizes"].items() for t in trainers
               if t not in r["median"]]
    return 1 if missing else 0


def table(result):
    """The medians in markdown; ae / peer: ae's samples/s over the peer's, same architecture."""
    rows = ["| size | trainer | samples/s | ae / it | peak RSS MiB | FVU | L0 | dead | recovery |",
            "|---|---|---|---|---|---|---|---|---|"]
    for size, r in result["sizes"].items():
        for t, m in r["median"].items():
            ae_t = "ae-batchtopk" if "batchtopk" in t else "ae-topk"
            ratio = ("" if t.startswith("ae-") or ae_t not in r["median"] else
                     f"{r['median'][ae_t]['samples_per_s'] / m['samples_per_s']:.2f}")
            rows.append(f"| {size} | {t} | {m['samples_per_s']:.0f} | {ratio} | "
                        f"{m['peak_rss_mib']:.0f} | {m['fvu']:.4f} | {m['l0']:.2f} | "
                        f"{m['dead_fraction']:.3f} | {m['recovery']:.4f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
