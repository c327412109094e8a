"""The PyTorch peers of ae's step benchmark: the same five models, from the same initial weights,
on the same data (the peer files ae_bench_steps writes), timed the way ae_bench_steps times ae.

Per model, batch size and precision (float32, TF32), in each mode:
  eager     the usual training step: zero_grad, forward, backward, Adam(fused=True).step()
  compile   the loss (forward) through torch.compile; backward and the fused Adam as in eager
            (float32 only by default: each configuration compiles for tens of seconds)
  graphs    the whole step captured with torch.cuda.graph (static input, Adam capturable=True)
            and replayed per batch after copying the batch into the static input
  jacobian  (contractive only) eager, the penalty through autograd's per-sample Jacobians
Each step adds its loss into a device accumulator, as ae does, so no step waits for the host.
Times are the median over groups of back-to-back steps (CUDA events, ~2 ms per group) after a
warm-up; memory is torch.cuda.max_memory_allocated() less what was allocated before the model
was built.

Before timing, the loss equivalence check: the eager peer runs the steps ae ran for the file
(same initial weights, batches, and noise taken from the file) and its loss at every step is
compared with ae's; they agree when every step is within 2%.

usage: python3 bench_peers.py --dir DIR [--out peers.json] [--models ...] [--batches 64,256,4096]
                              [--modes eager,compile,graphs,jacobian] [--precisions fp32,tf32]
                              [--deadline UNIX_TIME] [--check-only] [--quick]
Without CUDA only the equivalence check runs (on the CPU). Configurations that would start after
the deadline are recorded as skipped; torch.compile ones run last, largest batch first. The output
file is rewritten after the equivalence check and after every configuration, so a run stopped by
a time limit keeps what it measured.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import st_lite  # noqa: E402

EQUIVALENCE_TOLERANCE = 0.02
MODELS = ["ae", "dae", "sparse", "contractive", "vae"]


def load_peer(directory, name, device):
    tensors, meta = st_lite.load_for_torch(os.path.join(directory, f"peer_{name}.safetensors"))
    steps = int(meta["steps"])
    noise = [tensors[f"noise.{i}"].to(device) if f"noise.{i}" in tensors else None
             for i in range(steps)]
    noise = [n.bool() if n is not None and n.dtype == torch.uint8 else n for n in noise]
    return {
        "meta": meta,
        "params": {k: v for k, v in tensors.items() if k.endswith(".weight") or k.endswith(".bias")},
        "data": tensors["data"].to(device),
        "noise": noise,
        "ae_losses": [float(v) for v in tensors["ae.losses"].tolist()],
    }


def new_model(peer, device, jacobian=False):
    return models.build(peer["meta"], peer["params"], jacobian).to(device)


def make_adam(model, peer, device, capturable=False):
    """Adam with the peer file's learning rate; one fused kernel on the GPU, as ae's flat update
    (the multi-tensor implementation where this PyTorch cannot fuse a capturable Adam)."""
    lr = float(peer["meta"]["lr"])
    if device.type != "cuda":
        return torch.optim.Adam(model.parameters(), lr=lr)
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=capturable)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True, capturable=capturable)


# --- the loss equivalence check ----------------------------------------------------------------

def equivalence(name, peer, device):
    torch.backends.cuda.matmul.allow_tf32 = False
    model = new_model(peer, device)
    opt = make_adam(model, peer, device)
    batch, steps = int(peer["meta"]["batch"]), int(peer["meta"]["steps"])
    losses = []
    for i in range(steps):
        x = peer["data"][i * batch:(i + 1) * batch]
        total = model.loss(x, peer["noise"][i])[0]
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        losses.append(float(total))
    rel = [abs(t - a) / abs(a) for t, a in zip(losses, peer["ae_losses"])]
    return {"model": name, "steps": steps, "batch": batch, "ae_losses": peer["ae_losses"],
            "torch_losses": losses, "max_rel_diff": max(rel), "final_rel_diff": rel[-1],
            "pass": max(rel) <= EQUIVALENCE_TOLERANCE, "ran_on": str(device)}


# --- timing ------------------------------------------------------------------------------------

def median_step_us(step, samples, warmup=10):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def group_ms(count):
        start.record()
        for _ in range(count):
            step()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop)

    group_ms(warmup)
    one = max(group_ms(3) / 3, 1e-3)
    per_group = min(max(int(2.0 / one) + 1, 3), 1000)
    times = sorted(group_ms(per_group) / per_group for _ in range(samples))
    return times[len(times) // 2] * 1e3


def batches_of(data, batch):
    per_epoch = data.shape[0] // batch
    return [data[b * batch:(b + 1) * batch] for b in range(per_epoch)]


def time_config(peer, device, batch, mode, samples):
    """(microseconds per step, peak MiB) of one configuration."""
    xs = batches_of(peer["data"], batch)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model = new_model(peer, device, jacobian=(mode == "jacobian"))
    acc = torch.zeros((), device=device)
    counter = [0]

    def next_batch():
        x = xs[counter[0] % len(xs)]
        counter[0] += 1
        return x

    if mode in ("eager", "jacobian", "compile"):
        opt = make_adam(model, peer, device)
        loss_fn = model.loss
        if mode == "compile":
            # A fresh compilation per configuration: dynamo's per-function cache would otherwise
            # fill up over the configurations and silently fall back to eager.
            torch._dynamo.reset()
            loss_fn = torch.compile(lambda x: model.loss(x)[0])
        else:
            plain = loss_fn
            loss_fn = lambda x: plain(x)[0]  # noqa: E731

        def step():
            opt.zero_grad(set_to_none=True)
            total = loss_fn(next_batch())
            total.backward()
            opt.step()
            acc.add_(total.detach())

        us = median_step_us(step, samples)
    elif mode == "graphs":
        opt = make_adam(model, peer, device, capturable=True)
        static_x = xs[0].clone()
        # Warm up on a side stream before capturing (PyTorch's recipe for whole-step graphs).
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                total = model.loss(static_x)[0]
                total.backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            total = model.loss(static_x)[0]
            total.backward()
            opt.step()
            acc.add_(total.detach())

        def step():
            static_x.copy_(next_batch())
            graph.replay()

        us = median_step_us(step, samples)
    else:
        raise ValueError(f"unknown mode {mode}")
    torch.cuda.synchronize()
    if not math.isfinite(float(acc)):
        raise FloatingPointError("the loss is not finite")
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    return us, peak


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True, help="the folder with peer_<model>.safetensors")
    p.add_argument("--out", default="peers.json")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default="64,256,4096")
    p.add_argument("--modes", default="eager,compile,graphs,jacobian")
    p.add_argument("--precisions", default="fp32,tf32")
    p.add_argument("--compile-precisions", default="fp32",
                   help="torch.compile only in these (each configuration compiles for tens of seconds)")
    p.add_argument("--deadline", type=float, default=0, help="unix time; 0: none")
    p.add_argument("--check-only", action="store_true", help="only the loss equivalence check")
    p.add_argument("--quick", action="store_true", help="fewer timing samples")
    a = p.parse_args()

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    names = [m for m in a.models.split(",") if m]
    out = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
           "equivalence": [], "results": []}
    peers = {}

    def save():
        """Writes out as it stands (a temporary renamed into place): a run stopped at its time
        limit keeps every configuration timed so far."""
        with open(a.out + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(a.out + ".tmp", a.out)

    for name in names:
        peers[name] = load_peer(a.dir, name, device)
        e = equivalence(name, peers[name], device)
        out["equivalence"].append(e)
        print(f"equivalence {name}: max rel diff {e['max_rel_diff']:.2e} over {e['steps']} steps "
              f"({'pass' if e['pass'] else 'FAIL'}; ae {e['ae_losses'][-1]:.4f}, "
              f"torch {e['torch_losses'][-1]:.4f} at the last step)", flush=True)
    save()

    if cuda and not a.check_only:
        samples = 5 if a.quick else 21
        batches = [int(b) for b in a.batches.split(",") if b]
        modes = [m for m in a.modes.split(",") if m]
        configs = []
        for name in names:
            for batch in batches:
                for precision in a.precisions.split(","):
                    for mode in modes:
                        if mode == "jacobian" and name != "contractive":
                            continue
                        if mode == "compile" and precision not in a.compile_precisions.split(","):
                            continue
                        configs.append((name, batch, precision, mode))
        # torch.compile is the slow one to prepare: last, largest batches first.
        configs.sort(key=lambda c: (c[3] == "compile", -c[1] if c[3] == "compile" else 0))
        for name, batch, precision, mode in configs:
            r = {"model": name, "batch": batch, "precision": precision, "mode": mode}
            if a.deadline and time.time() > a.deadline:
                r["status"] = "skipped: out of time"
                out["results"].append(r)
                continue
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            t0 = time.time()
            try:
                r["us_per_step"], r["peak_mib"] = time_config(peers[name], device, batch, mode, samples)
                r["status"] = "ok"
            except torch.cuda.OutOfMemoryError:
                r["status"] = "out of memory"
            except Exception as e:  # a peer that cannot run is reported, not fatal
                r["status"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            r["seconds"] = round(time.time() - t0, 1)
            out["results"].append(r)
            save()
            torch.cuda.empty_cache()
            us = f"{r['us_per_step']:.1f} us/step" if "us_per_step" in r else r["status"]
            print(f"  {name} b={batch} {precision} {mode}: {us} ({r['seconds']} s)", file=sys.stderr,
                  flush=True)
        torch.backends.cuda.matmul.allow_tf32 = False

    save()
    ok = all(e["pass"] for e in out["equivalence"])
    print(f"peers: {len(out['equivalence'])} equivalence checks, "
          f"{'all within' if ok else 'NOT all within'} {EQUIVALENCE_TOLERANCE:.0%}; "
          f"{sum(r.get('status') == 'ok' for r in out['results'])} of {len(out['results'])} timings ran; "
          f"results in {a.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
