"""Runs sae_peers.py --small end to end and checks its JSON (numpy needed; the peers optional).

usage: python3 test_sae_peers.py WORK_DIR   (AE_CLI names the ae binary)

The peers run when this interpreter imports them and are skipped otherwise. Checks: every size
and trainer that ran has the medians' fields; ae topk's L0 is its k; its dead fraction is small
(AuxK); and its decoder recovers the dictionary better than random directions do. The small size
trains 128 steps at ae's default learning rate, far fewer than the 1920 steps at 1e-2 with which
tests/cpu/test_models_sae.cpp reaches a recovery of 0.9, so the bound here is the untrained one:
random directions (0.37 here) plus a margin; ae scores 0.40. Ends with "sae_peers --small: N passed, N failed".
"""
import json
import os
import subprocess
import sys

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
sys.exit(summary("sae_peers --small"))
