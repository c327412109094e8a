"""Runs sae_peers.py --small end to end and checks its JSON (numpy needed; the peers optional).

usage: python3 test_sae_peers.py WORK_DIR   (AE_CLI names the ae binary)

The peers run when this interpreter imports them and are skipped otherwise. Checks: every size
and trainer that ran has the medians' fields; ae topk's L0 is its k; its dead fraction is small
(AuxK); and its decoder recovers the dictionary better than random directions do. The small size
trains 128 steps at ae's default learning rate, far fewer than the 1920 steps at 1e-2 with which
tests/cpu/test_models_sae.cpp reaches a recovery of 0.9, so the bound here is the untrained one:
random directions (0.37 here) plus a margin; ae scores 0.40. Then, without a GPU, what the GPU
mode relies on: a run past its --deadline starts nothing, exits 3 and still writes its JSON and
table; each peer's ratio compares it with the ae trainer of its precision (sparsify's bf16
default with ae's TF32, ae's float32 when that alone ran); and, when torch is importable, the
data recipe drawn with torch gives float32 rows with the numpy draw's dictionary and an L0 near
the target. Ends with "sae_peers --small: N passed, N failed".
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from checks import check, summary  # noqa: E402

FIELDS = ["samples_per_s", "train_seconds", "process_seconds", "peak_rss_mib", "fvu", "l0",
          "dead_fraction", "recovery"]

work = sys.argv[1]
out = os.path.join(work, "small.json")
if os.path.exists(out):
    os.remove(out)
rc = subprocess.run([sys.executable, os.path.join(HERE, "sae_peers.py"), "--small", "--work",
                     work, "--out", out]).returncode
check(rc == 0, f"sae_peers.py --small exited {rc}")
with open(out) as f:
    result = json.load(f)
small = result["sizes"]["small"]
check(set(small["median"]) >= {"ae-topk", "ae-batchtopk"},
      f"trainers measured: {sorted(small['median'])}")
for trainer, m in small["median"].items():
    missing = [key for key in FIELDS if key not in m]
    check(not missing, f"{trainer}: fields missing: {missing}")
    check(m["samples_per_s"] > 0 and m["peak_rss_mib"] > 0 and 0 <= m["fvu"],
          f"{trainer}: implausible {m}")
check("ae-topk" in small["median"], "ae-topk ran")
topk = small["median"].get("ae-topk", {key: float("nan") for key in FIELDS})
k = small["config"]["k"]
check(abs(topk["l0"] - k) < 1e-9, f"ae-topk: L0 {topk['l0']} on held-out rows, not k = {k}")
check(topk["dead_fraction"] <= 0.05, f"ae-topk: dead fraction {topk['dead_fraction']} > 0.05")
check(topk["fvu"] < 0.6, f"ae-topk: FVU {topk['fvu']} >= 0.6")
bound = small["random_recovery"] + 0.02
check(topk["recovery"] > bound,
      f"ae-topk: recovery {topk['recovery']:.4f} not above random directions' + 0.02 = {bound:.4f}")

# --- the GPU mode's pieces, on the CPU ---------------------------------------------------------
import sae_peers  # noqa: E402

late = os.path.join(work, "late.json")
rc = subprocess.run([sys.executable, os.path.join(HERE, "sae_peers.py"), "--small", "--work",
                     work, "--out", late, "--deadline", "1"], capture_output=True, text=True)
check(rc.returncode == 3, f"past its deadline: exit {rc.returncode}, not 3: {rc.stderr[-300:]}")
check("not run, past the deadline" in rc.stdout, f"past its deadline, it says so: {rc.stdout[-300:]}")
check(os.path.exists(late) and os.path.exists(os.path.splitext(late)[0] + ".md"),
      "past its deadline, the JSON and its table are written")


def run(samples_per_s, precision):
    return {"samples_per_s": samples_per_s, "precision": precision}


med = {"ae-topk-tf32": run(300, "tf32"), "ae-topk": run(200, "fp32"),
       "sparsify-topk": run(100, "bf16 autocast"), "sparsify-topk-fp32": run(50, "fp32"),
       "sparsify-topk-tf32": run(150, "tf32")}
pairs = {t: sae_peers.versus(t, med) for t in med}
check(pairs == {"ae-topk-tf32": None, "ae-topk": None, "sparsify-topk": "ae-topk-tf32",
                "sparsify-topk-fp32": "ae-topk", "sparsify-topk-tf32": "ae-topk-tf32"},
      f"each peer against the ae trainer of its precision: {pairs}")
line = sae_peers.summary({"sizes": {"gpu16k": {"median": med}}})
check("ae-topk-tf32 (tf32) / sparsify-topk (bf16 autocast) 3.00x" in line
      and "ae-topk (fp32) / sparsify-topk-fp32 (fp32) 4.00x" in line, f"the summary: {line}")
del med["ae-topk-tf32"]
check(sae_peers.versus("sparsify-topk", med) == "ae-topk",
      "without ae's TF32 run, sparsify's default is compared with ae's float32 one")
try:
    import torch  # noqa: F401
except ImportError:
    print("torch not importable here: the torch draw of the data is not checked")
else:
    x, dictionary, l0 = sae_peers.synthetic_activations(64, 512, 4096, 8, seed=21, device="cpu")
    _, numpy_dictionary, numpy_l0 = sae_peers.synthetic_activations(64, 512, 4096, 8, seed=21)
    check(x.dtype == np.float32 and x.shape == (4096, 64) and np.isfinite(x).all(),
          f"the torch draw: {x.dtype} {x.shape}")
    check(np.array_equal(dictionary, numpy_dictionary), "the torch draw keeps numpy's dictionary")
    check(abs(l0 - 8) < 0.5 and abs(l0 - numpy_l0) < 0.5, f"the torch draw's L0 {l0} (numpy "
          f"{numpy_l0}), not near 8")
sys.exit(summary("sae_peers --small"))
