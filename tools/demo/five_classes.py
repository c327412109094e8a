"""Writes classes.csv, the synthetic table of README.md's walk-through: 2000 rows of 12
features and a class column; each of five classes lies on its own curved 2-D surface
(x = [a, b, ab] M_c + noise), every feature with its own scale and offset.

    python3 tools/demo/five_classes.py [out.csv]
"""
import sys

import numpy as np

rng = np.random.default_rng(3)
n, f = 2000, 12
mix = [rng.normal(size=(3, f)) for _ in range(5)]
scale = rng.uniform(0.5, 50, size=f)
offset = rng.uniform(-100, 100, size=f)
rows = []
for i in range(n):
    c = i % 5
    a, b = rng.uniform(-1, 1, size=2)
    x = np.array([a, b, a * b]) @ mix[c] + 0.05 * rng.normal(size=f)
    rows.append(list(x * scale + offset) + [c])
header = ",".join([f"f{j}" for j in range(f)] + ["class"])
np.savetxt(sys.argv[1] if len(sys.argv) > 1 else "classes.csv", np.array(rows), delimiter=",",
           header=header, comments="", fmt=["%.5f"] * f + ["%d"])
