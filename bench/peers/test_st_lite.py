"""Checks st_lite against the peer files ae writes (no numpy, no torch needed).

usage: python3 test_st_lite.py DIR   (DIR holds peer_<model>.safetensors from ae_peer_files)

For every file: the reader accepts it, the tensors are the ones the peers need with the shapes
the model's metadata implies, the values are plausible (data in [0, 1], masks of 0 and 1, finite
losses), and writing the entries back and reading them again gives the same tensors. Then the
reader's own checks: truncated and inconsistent files are refused. Ends with "N passed, N failed".
"""
import glob
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_lite  # noqa: E402
from checks import check, summary  # noqa: E402


def expected_parameters(meta):
    """name -> shape of every parameter the model of `meta` has (ae's names, weights (out, in))."""
    widths = [int(w) for w in meta["widths"].split(",")]
    shapes = {}

    def layer(name, n_in, n_out):
        shapes[name + ".weight"] = [n_out, n_in]
        shapes[name + ".bias"] = [n_out]

    if meta["model"] == "vae":
        latent = int(meta["latent"])
        for i in range(len(widths) - 1):
            layer(f"encoder.{i}", widths[i], widths[i + 1])
        layer("mu", widths[-1], latent)
        layer("logvar", widths[-1], latent)
        back = [latent] + widths[::-1]
        for i in range(len(back) - 1):
            layer(f"decoder.{i}", back[i], back[i + 1])
    else:
        for i in range(len(widths) - 1):
            layer(f"encoder.{i}", widths[i], widths[i + 1])
        back = widths[::-1]
        for i in range(len(back) - 1):
            layer(f"decoder.{i}", back[i], back[i + 1])
    return shapes


def check_file(path):
    tensors, meta = st_lite.load(path)
    name = os.path.basename(path)
    model = meta.get("model")
    check(model in ("ae", "dae", "sparse", "contractive", "vae"), f"{name}: model {model!r}")
    if model is None:
        return
    for key in ("widths", "latent", "hidden", "lr", "batch", "steps", "noise_level", "penalty_weight"):
        check(key in meta, f"{name}: metadata {key!r}")
    for pname, shape in expected_parameters(meta).items():
        t = tensors.get(pname)
        check(t is not None and t.dtype == "F32" and t.shape == shape,
              f"{name}: parameter {pname} {shape} (got {t})")
        if t is not None and pname.endswith(".bias"):
            check(all(v == 0 for v in t.values()), f"{name}: {pname} starts at zero")
        if t is not None and pname.endswith(".weight"):
            v = t.values()
            check(all(math.isfinite(x) for x in v) and any(x != 0 for x in v),
                  f"{name}: {pname} holds finite, non-zero initial weights")
    batch, steps = int(meta["batch"]), int(meta["steps"])
    data = tensors.get("data")
    check(data is not None and data.dtype == "F32" and data.shape[1] == 784
          and data.shape[0] >= batch * steps, f"{name}: data (rows, 784) for {steps} x {batch}")
    if data is not None:
        v = data.values()
        check(all(0 <= x <= 1 for x in v), f"{name}: data in [0, 1]")
        zeros = sum(1 for x in v if x == 0) / len(v)
        check(0.6 < zeros < 0.8, f"{name}: about 70% zeros in the data (got {zeros:.2f})")
    losses = tensors.get("ae.losses")
    check(losses is not None and losses.shape == [steps], f"{name}: ae.losses ({steps})")
    if losses is not None:
        check(all(math.isfinite(x) and x > 0 for x in losses.values()), f"{name}: finite losses")
    for i in range(steps):
        noise = tensors.get(f"noise.{i}")
        if model == "dae":
            check(noise is not None and noise.dtype == "U8" and noise.shape == [batch, 784],
                  f"{name}: noise.{i} keep mask (U8, ({batch}, 784))")
            if noise is not None:
                kept = noise.values()
                check(set(kept) <= {0, 1}, f"{name}: noise.{i} holds 0 and 1 only")
                frac = 1 - sum(kept) / len(kept)
                level = float(meta["noise_level"])
                check(abs(frac - level) < 0.05, f"{name}: noise.{i} masks {frac:.3f} (level {level})")
        elif model == "vae":
            latent = int(meta["latent"])
            check(noise is not None and noise.dtype == "F32" and noise.shape == [batch, latent],
                  f"{name}: noise.{i} eps (F32, ({batch}, {latent}))")
        else:
            check(noise is None, f"{name}: no noise for a noise-free model")

    # Round trip: the entries written again read back the same, metadata included.
    entries = list(tensors.values())
    again, meta_again = st_lite.parse(st_lite.dumps(entries, meta), name + " (rewritten)")
    check(list(again) == list(tensors) and all(again[k] == tensors[k] for k in tensors),
          f"{name}: round trip keeps every tensor")
    check(meta_again == meta, f"{name}: round trip keeps the metadata")


def check_refusals():
    good = st_lite.dumps([st_lite.Entry("x", "F32", [2], struct.pack("<2f", 1.0, 2.0))], {"k": "v"})
    tensors, meta = st_lite.parse(good)
    check(tensors["x"].values() == [1.0, 2.0] and meta == {"k": "v"}, "a hand-made file reads back")

    def refused(blob, why):
        try:
            st_lite.parse(blob, why)
        except ValueError:
            check(True, why)
        else:
            check(False, f"accepted {why}")

    refused(good[:6], "a file shorter than the header length")
    refused(good[:-1], "a truncated tensor")
    refused(good + b"\0", "bytes after the last tensor")
    refused(struct.pack("<Q", 1 << 40) + good[8:], "a header length past the end")
    refused(struct.pack("<Q", 4) + b"nope", "a header that is not JSON")
    header = b'{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'
    header += b" " * (-len(header) % 8)
    refused(struct.pack("<Q", len(header)) + header + bytes(8), "a shape that does not fit its bytes")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    files = sorted(glob.glob(os.path.join(sys.argv[1], "peer_*.safetensors")))
    check(len(files) == 5, f"five peer files in {sys.argv[1]} (found {len(files)})")
    for path in files:
        check_file(path)
    check_refusals()
    return summary("st_lite")


if __name__ == "__main__":
    sys.exit(main())
