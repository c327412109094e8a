"""ae against PyTorch on the CPU, in one run (bench/run_cpu.sh calls this): the five models of the
step benchmark at each batch size, ae (ae_bench_cpu_steps) and PyTorch (bench_cpu_peer.py, the
same initial weights and data from the peer files) alternating, one process per measurement so
that each peak RSS is its own, the same thread count and OpenMP wait policy for both; then `ae train` and the PyTorch
peer on MNIST for the peak RSS of a whole training run. Prints the table (medians over the
repetitions, the ratio ae / PyTorch, the step against its GEMMs alone) and writes every
measurement to OUT/cpu_compare.json.

Without PyTorch (it is no build or test dependency) only ae is measured, and the table says how
to install it: `pip install torch` (PyPI's wheel; the CPU-only index
https://download.pytorch.org/whl/cpu is smaller where it is reachable). --python names the
interpreter that has it (default: this one).

usage: python3 cpu_compare.py --build BUILD_DIR [--out DIR] [--threads N] [--reps 3]
                              [--models ae,dae,...] [--batches 64,256] [--mnist DIR]
                              [--python PYTHON] [--samples 7] [--wait-policy passive]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["ae", "dae", "sparse", "contractive", "vae"]
TARGET = {64: 1.5, 256: 1.2}  # ae / PyTorch samples/s


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, peak RSS MiB of that process alone, wall seconds)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        stdout = p.stdout.read()
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN: the largest of all so far).
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.read()[-400:]}")
    return stdout, usage.ru_maxrss / 1024.0, time.perf_counter() - t0


def last_json(text):
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def has_torch(python):
    r = subprocess.run([python, "-c", "import torch, numpy; print(torch.__version__)"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--out", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default="64,256")
    p.add_argument("--mnist", default=None)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--samples", type=int, default=7)
    p.add_argument("--wait-policy", default="passive", choices=["passive", "active", "default"],
                   help="OMP_WAIT_POLICY of both sides (both run on libgomp); passive unless "
                        "the machine is otherwise idle: a spinning thread on a busy machine "
                        "burns the time slice its partner needs")
    args = p.parse_args()
    models = [m for m in args.models.split(",") if m]
    batches = [int(b) for b in args.batches.split(",") if b]
    out_dir = args.out or tempfile.mkdtemp(prefix="ae_cpu_compare_")
    os.makedirs(out_dir, exist_ok=True)
    bench = os.path.join(args.build, "bench")
    ae_cli = os.path.join(args.build, "tools", "ae")
    env = dict(os.environ, AE_CPU_THREADS=str(args.threads), AE_DEVICE="cpu",
               CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS=str(args.threads))
    env.pop("OMP_WAIT_POLICY", None)
    if args.wait_policy != "default":
        env["OMP_WAIT_POLICY"] = args.wait_policy

    torch_version = has_torch(args.python)
    print(f"== ae vs PyTorch on the CPU: {cpu_name()}, {os.cpu_count()} logical CPUs, "
          f"{args.threads} threads each, OMP_WAIT_POLICY {args.wait_policy}; PyTorch {torch_version or 'not installed'}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    if not torch_version:
        print("   PyTorch is not installed: only ae is measured. To compare, install it "
              "(`pip install torch numpy`; https://download.pytorch.org/whl/cpu has a smaller "
              "CPU-only wheel) and pass --python <its interpreter>.")

    # The peer files: the initial weights and data both sides start from.
    subprocess.run([os.path.join(bench, "ae_peer_files"), "--out", out_dir, "--device", "cpu",
                    "--models", ",".join(models), "--rows", "4096", "--batch", "256",
                    "--steps", "16"], check=True, env=env, stdout=subprocess.DEVNULL)
    if torch_version:  # the models agree loss for loss before anything is timed
        r = subprocess.run([args.python, os.path.join(HERE, "bench_peers.py"), "--dir", out_dir,
                            "--check-only", "--models", ",".join(models),
                            "--out", os.path.join(out_dir, "equivalence.json")],
                           capture_output=True, text=True, env=env)
        print("   loss equivalence:", "ok" if r.returncode == 0 else "FAILED", flush=True)
        if r.returncode != 0:
            print(r.stdout[-2000:], r.stderr[-2000:])

    runs = []
    for rep in range(args.reps):
        for m in models:
            for b in batches:
                sides = ["ae", "pytorch"] if torch_version else ["ae"]
                if rep % 2:
                    sides.reverse()
                for side in sides:
                    if side == "ae":
                        cmd = [os.path.join(bench, "ae_bench_cpu_steps"), "--model", m,
                               "--batch", str(b), "--samples", str(args.samples)]
                    else:
                        cmd = [args.python, os.path.join(HERE, "bench_cpu_peer.py"), "--dir",
                               out_dir, "--model", m, "--batch", str(b), "--threads",
                               str(args.threads), "--samples", str(args.samples)]
                    stdout, rss, _ = run_measured(cmd, env)
                    r = last_json(stdout)
                    r["process_rss_mib"] = rss
                    runs.append(r)
                    print(f"   rep {rep + 1} {side:7s} {m:11s} b={b:<4d} "
                          f"{r['samples_per_s']:9.0f} samples/s  {rss:6.0f} MiB", flush=True)

    mnist_runs = []
    if args.mnist:
        for rep in range(args.reps):
            sides = ["ae", "pytorch"] if torch_version else ["ae"]
            if rep % 2:
                sides.reverse()
            for side in sides:
                with tempfile.TemporaryDirectory() as run_dir:
                    if side == "ae":
                        cmd = [ae_cli, "train", "--data", args.mnist, "--model", "ae",
                               "--hidden", "512,256", "--code", "32", "--activation", "sigmoid",
                               "--epochs", "1", "--batch-size", "256", "--lr", "0.001",
                               "--no-pictures", "-q", "--out", os.path.join(run_dir, "run")]
                    else:
                        cmd = [args.python, os.path.join(HERE, "bench_cpu_peer.py"), "--dir",
                               out_dir, "--model", "ae", "--threads", str(args.threads),
                               "--mnist", args.mnist, "--batch", "256", "--epochs", "1"]
                    stdout, rss, seconds = run_measured(cmd, env)
                mnist_runs.append({"impl": side, "rss_mib": rss, "seconds": seconds})
                print(f"   rep {rep + 1} {side:7s} MNIST 1 epoch: {seconds:6.1f} s  {rss:6.0f} MiB",
                      flush=True)

    with open(os.path.join(out_dir, "cpu_compare.json"), "w") as f:
        json.dump({"cpu": cpu_name(), "threads": args.threads, "pytorch": torch_version,
                   "runs": runs, "mnist": mnist_runs}, f, indent=1)

    def vals(impl, m, b, key):
        return [r[key] for r in runs if r["impl"] == impl and r["model"] == m and r["batch"] == b]

    def med(impl, m, b, key):
        xs = vals(impl, m, b, key)
        return statistics.median(xs) if xs else None

    # Medians, and in parentheses the best repetition: on a machine shared with other work the
    # best is the closest to what an idle machine gives.
    print("\n| model | batch | ae samples/s | PyTorch samples/s | ae / PyTorch (target) | "
          "ae step ms | its GEMMs alone ms | step / GEMMs | GEMMs GFLOP/s | ae RSS MiB | "
          "PyTorch RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in models:
        for b in batches:
            ae_sps, pt_sps = med("ae", m, b, "samples_per_s"), med("pytorch", m, b, "samples_per_s")
            ae_best = max(vals("ae", m, b, "samples_per_s"))
            pt_best = max(vals("pytorch", m, b, "samples_per_s") or [0])
            step_ms, gemm_ms = med("ae", m, b, "us_per_step") / 1e3, med("ae", m, b, "gemm_us") / 1e3
            step_best = min(vals("ae", m, b, "us_per_step")) / 1e3
            gemm_best = min(vals("ae", m, b, "gemm_us")) / 1e3
            pt_rss = med("pytorch", m, b, "process_rss_mib")
            pt = f"{pt_sps:,.0f} ({pt_best:,.0f})" if pt_sps else "—"
            ratio = (f"{ae_sps / pt_sps:.2f} ({ae_best / pt_best:.2f}) [{TARGET.get(b, 1.0)}]"
                     if pt_sps else "—")
            print(f"| {m} | {b} | {ae_sps:,.0f} ({ae_best:,.0f}) | {pt} | {ratio} | "
                  f"{step_ms:.2f} ({step_best:.2f}) | {gemm_ms:.2f} ({gemm_best:.2f}) | "
                  f"{step_ms / gemm_ms:.2f} ({step_best / gemm_best:.2f}) | "
                  f"{med('ae', m, b, 'gemm_gflops'):.0f} ({max(vals('ae', m, b, 'gemm_gflops')):.0f}) | "
                  f"{med('ae', m, b, 'process_rss_mib'):.0f} | {f'{pt_rss:.0f}' if pt_rss else '—'} |")
    if mnist_runs:
        def mm(impl, key):
            xs = [r[key] for r in mnist_runs if r["impl"] == impl]
            return statistics.median(xs) if xs else None
        ae_rss, pt_rss = mm("ae", "rss_mib"), mm("pytorch", "rss_mib")
        print(f"\nMNIST, 1 epoch of the ae model (784-512-256-32, batch 256): ae train "
              f"{mm('ae', 'seconds'):.1f} s, peak RSS {ae_rss:.0f} MiB"
              + (f"; PyTorch {mm('pytorch', 'seconds'):.1f} s, {pt_rss:.0f} MiB; "
                 f"ae / PyTorch RSS {ae_rss / pt_rss:.2f} (target <= 0.33)" if pt_rss else ""))
    print(f"\nmeasurements: {os.path.join(out_dir, 'cpu_compare.json')}")


if __name__ == "__main__":
    main()
