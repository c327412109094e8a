"""ae's anomaly detectors beside PyOD's on ADBench's classical and embedding sets.

ADBench's unsupervised protocol (Han et al., "ADBench: Anomaly Detection Benchmark", NeurIPS
2022; adbench/datasets/data_generator.py): a set of more than --max-rows rows is subsampled to
--max-rows without replacement, then split 70/30 into train and test, stratified by the label,
for each seed; with --input minmax a MinMaxScaler is fitted on the training part and applied to
both (with --input raw the values are given as they are). Every method fits on the training rows
without their labels (the anomalies among them stay) and scores the test rows; the figures are
ROC AUC and average precision on the test part, and the seconds of fit + scoring.

Methods: "ae" is ae.AnomalyDetector() with its defaults; "ae:<variant>" one of VARIANTS below
(the choices measured for the defaults); "pyod:<Name>" PyOD's detector of that name with its own
defaults (AutoEncoder, VAE, IForest, ECOD, KNN, PCA). PyOD and PyTorch are benchmark
dependencies only (bench/adbench/requirements.txt), never the build's or the tests'.

Results go to --results (a CSV, one row per method, input, set and seed); rows already there are
not run again, so variants can be added to a finished run. Then the summary: per set the mean
AUC over the seeds; per method the mean AUC and AP over the sets, the mean rank (1 = best, ties
averaged), the sets won and the total seconds; and a picture (--picture): AUC per set per
method, and mean AUC against total seconds.

usage: python bench/adbench/adbench.py [--data DIR] [--methods ae,pyod:IForest,...]
           [--input minmax|raw] [--seeds 1,2,3] [--max-rows 10000] [--sets cardio,...]
           [--results FILE.csv] [--picture FILE.png] [--summary-only] [--threads N]
ae's Python package must be importable (PYTHONPATH=build/release/python).
"""
import argparse
import csv
import glob
import os
import sys
import time
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The choices measured for ae.AnomalyDetector's defaults (docs/anomaly-detection.md says which
# won): settings given to it, or a function of the training rows returning them. "score" picks
# the score compared: the default (reconstruction error weighted per feature + the code's
# Mahalanobis distance) or the plain reconstruction error of earlier versions ("reconstruction").
VARIANTS = {
    # before: the plain autoencoder preset (hidden 256, 64; code 16), --normalize auto, its error
    "before": dict(model="ae", score="reconstruction"),
    "reconstruction": dict(score="reconstruction"),
    "minmax": dict(normalize="min_max"),
    "code-half": lambda X: dict(code=max(2, min(32, X.shape[1] // 2)),
                                hidden=(max(2 * max(2, min(32, X.shape[1] // 2)),
                                            min(X.shape[1], 64)),)),
    "hidden-256-64": dict(hidden=(256, 64)),
    "epochs-10": dict(epochs=10),
    "epochs-60": dict(epochs=60),
    "denoising": dict(noise="gaussian", noise_level=0.1),
    "vae": dict(model="vae", normalize="standardize"),
    "ensemble-5": dict(members=5),
}

PYOD = ["AutoEncoder", "VAE", "IForest", "ECOD", "KNN", "PCA"]
FIELDS = ["method", "input", "set", "seed", "rows", "features", "anomalies", "auc", "ap",
          "seconds", "error"]


def set_name(path):
    base = os.path.basename(path)[:-len(".npz")]
    return base.split("_", 1)[1] if base.split("_", 1)[0].isdigit() else base


def load_sets(data_dir, only):
    paths = sorted(glob.glob(os.path.join(data_dir, "*.npz")))
    paths += sorted(glob.glob(os.path.join(data_dir, "embeddings", "*.npz")))
    if not paths:
        sys.exit(f"adbench: no .npz files in {data_dir}")
    sets = [(set_name(p), p) for p in paths]
    if only:
        wanted = set(only)
        sets = [s for s in sets if s[0] in wanted]
        missing = wanted - {s[0] for s in sets}
        if missing:
            sys.exit(f"adbench: no such set: {', '.join(sorted(missing))}")
    return sets


def split(path, seed, max_rows, scaling):
    """ADBench's subsample, stratified 70/30 split and (with minmax) scaling, for one seed."""
    with np.load(path, allow_pickle=False) as f:
        X, y = f["X"].astype(np.float64), f["y"].astype(int).ravel()
    rng = np.random.RandomState(seed)
    if len(y) > max_rows:
        keep = rng.choice(len(y), max_rows, replace=False)
        X, y = X[keep], y[keep]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=seed, shuffle=True)
    if scaling == "minmax":
        scaler = MinMaxScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return (np.ascontiguousarray(X_train, dtype=np.float32),
            np.ascontiguousarray(X_test, dtype=np.float32), y_test)


class Ensemble:
    """The mean of `members` detectors' scores (each in units of its own training mean), their
    seeds seed, seed + 1, ..., their code widths 1, 0.5, 1.5, 0.75, 1.25 times the default's."""

    def __init__(self, seed, members):
        self.seed, self.members = seed, members

    def fit(self, X):
        import ae
        k = max(2, min(32, round(X.shape[1] ** 0.5)))
        self.detectors = []
        for j, f in enumerate([1, 0.5, 1.5, 0.75, 1.25][:self.members]):
            code = max(1, round(k * f))
            hidden = (max(2 * code, min(X.shape[1], 64)),)
            self.detectors.append(ae.AnomalyDetector(random_state=self.seed + j, code=code,
                                                     hidden=hidden).fit(X))
        return self

    def decision_function(self, X):
        return np.mean([d.decision_function(X) for d in self.detectors], axis=0)


def make_detector(method, seed, X_train):
    kind, _, name = method.partition(":")
    if kind == "ae":
        import ae
        settings = VARIANTS[name] if name else {}
        settings = dict(settings(X_train) if callable(settings) else settings)
        if "members" in settings:
            return Ensemble(seed, settings["members"]), "decision_function"
        score = settings.pop("score", "default")
        detector = ae.AnomalyDetector(random_state=seed, **settings)
        return detector, "_errors" if score == "reconstruction" else "decision_function"
    if kind == "pyod":
        module = {"AutoEncoder": "auto_encoder", "VAE": "vae", "IForest": "iforest",
                  "ECOD": "ecod", "KNN": "knn", "PCA": "pca"}[name]
        cls = getattr(__import__(f"pyod.models.{module}", fromlist=[name]), name)
        try:
            return cls(random_state=seed), "decision_function"
        except TypeError:  # ECOD, KNN take no random_state
            return cls(), "decision_function"
    raise SystemExit(f"adbench: unknown method {method!r} (ae, ae:<variant>, pyod:<Name>)")


def run_one(method, X_train, X_test, y_test, seed):
    detector, score = make_detector(method, seed, X_train)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X_train)
        scores = np.asarray(getattr(detector, score)(X_test), dtype=np.float64)
    seconds = time.perf_counter() - start
    if not np.isfinite(scores).all():
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} non-finite scores")
    return roc_auc_score(y_test, scores), average_precision_score(y_test, scores), seconds


def limit_threads(threads):
    """Every method on `threads` threads: ae (AE_CPU_THREADS), OpenMP and BLAS libraries
    (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) and PyTorch (set_num_threads).
    Set before any of them starts its pool."""
    for name in ("AE_CPU_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_result(path, row):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


def ranks(values):
    """1 for the largest value, ties averaged."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def summarise(rows, methods, sets, scaling, seeds):
    """Per-set mean AUC table and the per-method summary over the sets every method finished."""
    cell = {}
    failed = {}
    for r in rows:
        if r["input"] != scaling or int(r["seed"]) not in seeds:
            continue
        if r["error"]:  # a method that fails on a split ranks it at random: AUC 0.5, AP the
            # anomaly fraction of the test part
            failed[(r["method"], r["set"])] = failed.get((r["method"], r["set"]), 0) + 1
            r = dict(r, auc="0.5", ap=r.get("anomalies") or "0", seconds=r["seconds"] or "0")
        cell.setdefault((r["method"], r["set"]), []).append(r)
    done = [s for s, _ in sets
            if all(len(cell.get((m, s), [])) == len(seeds) for m in methods)]
    if not done:
        print("adbench: no set has results for every method and seed yet")
        return None
    mean = {(m, s): (np.mean([float(r["auc"]) for r in cell[(m, s)]]),
                     np.mean([float(r["ap"]) for r in cell[(m, s)]]),
                     np.sum([float(r["seconds"]) for r in cell[(m, s)]])) for m in methods
            for s in done}
    width = max(len(s) for s in done)
    short = [m.replace("pyod:", "") for m in methods]
    print(f"\nROC AUC on the test part, mean of seeds {','.join(map(str, seeds))}, "
          f"input {scaling}:")
    print(f"{'set':<{width}} " + " ".join(f"{m[:12]:>12}" for m in short))
    rank_sum = {m: 0.0 for m in methods}
    wins = {m: 0 for m in methods}
    for s in done:
        aucs = [mean[(m, s)][0] for m in methods]
        for m, rk in zip(methods, ranks(aucs)):
            rank_sum[m] += rk
        best = max(aucs)
        for m, a in zip(methods, aucs):
            wins[m] += a == best
        print(f"{s:<{width}} " + " ".join(f"{a:12.3f}" for a in aucs))
    for (m, s), count in sorted(failed.items()):
        if m in methods and s in done:
            print(f"{m} failed on {count} of the splits of {s} (counted as AUC 0.5)")
    print(f"\n{'method':<22} {'mean AUC':>9} {'mean AP':>8} {'mean rank':>10} {'wins':>5} "
          f"{'seconds':>9}   ({len(done)} sets)")
    summary = {}
    for m in methods:
        auc = np.mean([mean[(m, s)][0] for s in done])
        ap = np.mean([mean[(m, s)][1] for s in done])
        sec = np.sum([mean[(m, s)][2] for s in done])
        summary[m] = dict(auc=auc, ap=ap, rank=rank_sum[m] / len(done), wins=wins[m], seconds=sec)
        print(f"{m:<22} {auc:9.3f} {ap:8.3f} {rank_sum[m] / len(done):10.2f} {wins[m]:5d} "
              f"{sec:9.1f}")
    return done, mean, summary


def picture(path, methods, done, mean, summary, scaling):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 6.5), gridspec_kw={"width_ratios": [3, 1]})
    order = sorted(done, key=lambda s: mean[(methods[0], s)][0])
    for k, m in enumerate(methods):
        left.plot(range(len(order)), [mean[(m, s)][0] for s in order], "o-" if k == 0 else "o",
                  label=m, alpha=0.9 if k == 0 else 0.6, markersize=5 if k == 0 else 4)
    left.set_xticks(range(len(order)))
    left.set_xticklabels(order, rotation=70, ha="right", fontsize=8)
    left.set_ylabel("ROC AUC (test part, mean of seeds)")
    left.set_title(f"ROC AUC per set (input: {scaling}); sets by {methods[0]}'s AUC")
    left.grid(alpha=0.3)
    left.legend(fontsize=8, ncol=2)
    for m in methods:
        right.scatter(summary[m]["seconds"], summary[m]["auc"])
        right.annotate(m.replace("pyod:", ""), (summary[m]["seconds"], summary[m]["auc"]),
                       fontsize=8, xytext=(3, 3), textcoords="offset points")
    right.set_xscale("log")
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.set_xlabel("fit + score seconds, summed over sets and seeds")
    right.set_ylabel("mean ROC AUC")
    right.set_title("AUC against time")
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"adbench: wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "adbench"))
    p.add_argument("--methods", default="ae," + ",".join(f"pyod:{m}" for m in PYOD))
    p.add_argument("--input", choices=["minmax", "raw"], default="minmax")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--max-rows", type=int, default=10000)
    p.add_argument("--sets", default="")
    p.add_argument("--results", default=os.path.join(ROOT, "build", "adbench", "results.csv"))
    p.add_argument("--picture", default="")
    p.add_argument("--summary-only", action="store_true")
    p.add_argument("--threads", type=int, default=0,
                   help="threads for every method (0: each library's own choice)")
    a = p.parse_args()
    if a.threads > 0:
        limit_threads(a.threads)
    methods = [m for m in a.methods.split(",") if m]
    seeds = [int(s) for s in a.seeds.split(",")]
    sets = load_sets(a.data, [s for s in a.sets.split(",") if s])
    os.makedirs(os.path.dirname(os.path.abspath(a.results)), exist_ok=True)
    rows = read_results(a.results)
    have = {(r["method"], r["input"], r["set"], r["seed"]) for r in rows}
    if not a.summary_only:
        for name, path in sets:
            for seed in seeds:
                todo = [m for m in methods if (m, a.input, name, str(seed)) not in have]
                if not todo:
                    continue
                X_train, X_test, y_test = split(path, seed, a.max_rows, a.input)
                for m in todo:  # the methods alternate on each split
                    row = dict(method=m, input=a.input, set=name, seed=seed,
                               rows=len(X_train) + len(X_test), features=X_train.shape[1],
                               anomalies=f"{y_test.mean():.6f}", auc="", ap="", seconds="",
                               error="")
                    try:
                        auc, ap, sec = run_one(m, X_train, X_test, y_test, seed)
                        row.update(auc=f"{auc:.6f}", ap=f"{ap:.6f}", seconds=f"{sec:.4f}")
                    except Exception as e:  # a method that fails on a set is reported, not fatal
                        row["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
                    append_result(a.results, row)
                    rows.append({k: str(v) for k, v in row.items()})
                    status = row["error"] or f"AUC {row['auc']} in {row['seconds']} s"
                    print(f"{name} seed {seed} {m}: {status}", flush=True)
    result = summarise(rows, methods, sets, a.input, seeds)
    if result and a.picture:
        picture(a.picture, methods, *result, a.input)


if __name__ == "__main__":
    main()
