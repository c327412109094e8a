"""One table of ae against its PyTorch peers, from ae_bench_steps' ae_steps.json and
bench_peers.py's peers.json (both from the same GPU).

usage: python3 compare.py AE_STEPS_JSON PEERS_JSON

Prints, in markdown:
  - the loss equivalence check (ae and the eager peer from the same init, batches and noise);
  - per model, batch size and precision: ae's step time in graph and fused mode, PyTorch's in
    eager, torch.compile and CUDA-graph mode with the ratio PyTorch / ae graph (above 1: ae is
    faster), the peak memory of each side, and ae's step time over its GEMMs' alone;
  - the contractive model against the usual autograd-Jacobian penalty;
  - the targets: a graph step within 15% of its GEMMs at batch 4096, and the contractive step at
    least 10x faster than the Jacobian form.
"""
import json
import sys


def index(results, keys):
    return {tuple(r[k] for k in keys): r for r in results}


def fmt_us(r):
    if r is None:
        return "—"
    if r.get("status", "ok") != "ok":
        return r["status"]
    return f"{r['us_per_step']:.1f}" if "us_per_step" in r else "—"


def ratio(peer, ae_us):
    if peer is None or peer.get("status", "ok") != "ok" or not ae_us:
        return ""
    return f" ({peer['us_per_step'] / ae_us:.2f}x)"


def mib(r):
    return f"{r['peak_mib']:.0f}" if r is not None and "peak_mib" in r else "—"


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        ae = json.load(f)
    with open(sys.argv[2]) as f:
        peers = json.load(f)
    ae_runs = index(ae["results"], ("model", "batch", "precision", "mode"))
    torch_runs = index(peers["results"], ("model", "batch", "precision", "mode"))

    print(f"ae on {ae['device']}; PyTorch {peers.get('torch', '?')} on {peers['device']}; "
          f"cuBLAS peak {ae['peak_tflops']['fp32']:.1f} TFLOP/s float32, "
          f"{ae['peak_tflops']['tf32']:.1f} TFLOP/s TF32")
    print()
    print("Loss equivalence (same init, batches and noise; PyTorch eager, float32):")
    print()
    print("| model | steps x batch | max rel diff | ae last loss | torch last loss | within 2% |")
    print("|---|---|---:|---:|---:|---|")
    for e in peers["equivalence"]:
        print(f"| {e['model']} | {e['steps']} x {e['batch']} | {e['max_rel_diff']:.2e} | "
              f"{e['ae_losses'][-1]:.4f} | {e['torch_losses'][-1]:.4f} | "
              f"{'yes' if e['pass'] else 'NO'} |")
    print()
    print("Step time in us (median); (Nx) = PyTorch time / ae graph time; memory: peak MiB;")
    print("step/GEMMs = ae graph step time / its GEMMs replayed alone.")
    print()
    print("| model | batch | prec | ae graph | ae fused | torch eager | torch compile | torch graphs "
          "| ae MiB | torch MiB (eager / graphs) | step/GEMMs |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    seen = sorted({k[:3] for k in ae_runs}, key=lambda k: (
        ["ae", "dae", "sparse", "contractive", "vae"].index(k[0]) if k[0] in
        ["ae", "dae", "sparse", "contractive", "vae"] else 9, k[1], k[2]))
    gemm_targets, jacobian_rows = [], []
    for model, batch, precision in seen:
        graph = ae_runs.get((model, batch, precision, "graph"))
        fused = ae_runs.get((model, batch, precision, "fused"))
        ae_us = graph["us_per_step"] if graph else None
        t = {m: torch_runs.get((model, batch, precision, m))
             for m in ("eager", "compile", "graphs", "jacobian")}
        step_gemm = f"{graph['us_per_step'] / graph['gemm_us']:.2f}" if graph else "—"
        print(f"| {model} | {batch} | {precision} | {fmt_us(graph)} | {fmt_us(fused)} | "
              f"{fmt_us(t['eager'])}{ratio(t['eager'], ae_us)} | "
              f"{fmt_us(t['compile'])}{ratio(t['compile'], ae_us)} | "
              f"{fmt_us(t['graphs'])}{ratio(t['graphs'], ae_us)} | {mib(graph)} | "
              f"{mib(t['eager'])} / {mib(t['graphs'])} | {step_gemm} |")
        if graph and batch == 4096:
            gemm_targets.append((model, precision, graph["us_per_step"] / graph["gemm_us"]))
        if model == "contractive":
            jacobian_rows.append((batch, precision, graph, t["jacobian"]))

    if jacobian_rows:
        print()
        print("Contractive: ae's closed form against PyTorch's autograd-Jacobian penalty (eager):")
        print()
        print("| batch | prec | ae graph | torch jacobian | speed-up | torch jacobian MiB |")
        print("|---:|---|---:|---:|---:|---:|")
        for batch, precision, graph, jac in jacobian_rows:
            speed = ""
            if graph and jac and jac.get("status") == "ok":
                speed = f"{jac['us_per_step'] / graph['us_per_step']:.1f}x"
            print(f"| {batch} | {precision} | {fmt_us(graph)} | {fmt_us(jac)} | {speed} | {mib(jac)} |")

    print()
    print("Targets:")
    for model, precision, r in gemm_targets:
        print(f"  graph step within 15% of its GEMMs at batch 4096, {model} {precision}: "
              f"{r:.2f}x the GEMMs ({'met' if r <= 1.15 else 'not met'})")
    for batch, precision, graph, jac in jacobian_rows:
        if graph and jac and jac.get("status") == "ok":
            s = jac["us_per_step"] / graph["us_per_step"]
            print(f"  contractive >= 10x the Jacobian form, batch {batch} {precision}: {s:.1f}x "
                  f"({'met' if s >= 10 else 'not met'})")
        elif jac is not None:
            print(f"  contractive vs the Jacobian form, batch {batch} {precision}: "
                  f"the Jacobian form {jac.get('status')}")
    fails = [e["model"] for e in peers["equivalence"] if not e["pass"]]
    print(f"  losses within 2% of PyTorch's: {'all models' if not fails else 'NOT for ' + ', '.join(fails)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
