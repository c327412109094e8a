#!/usr/bin/env bash
# Streaming against in-memory training on the CPU (ae_bench_stream, bench_stream.cpp): one
# generated .npy, then per repetition one process in memory and one streaming with each buffer,
# alternating; the table gives the median (and best) over the repetitions of samples/s over the
# epochs, the seconds of one epoch's reads alone, and the peak RSS.
#
#   bash bench/run_stream.sh [REPS]      (default 3; MIB=1024 file size, BUFFERS="16 64 256",
#                                         EPOCHS=2, BATCH=256, DIR: where the file is written)
#
# The file is read back from the page cache when it fits there (it does here): this compares the
# reader and its buffers with data in memory, not a cold disk.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
MIB=${MIB:-1024}
BUFFERS=${BUFFERS:-"16 64 256"}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-256}
cmake --preset release >/dev/null
cmake --build build/release --target ae_bench_stream >/dev/null
BENCH=$PWD/build/release/bench/ae_bench_stream
DIR=$(mktemp -d "${DIR:-${TMPDIR:-/tmp}}/ae_stream_bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
"$BENCH" --generate "$DIR/data.npy" --mib "$MIB"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $MIB MiB file," \
     "batch $BATCH, $EPOCHS epochs, $REPS repetitions"
for rep in $(seq 1 "$REPS"); do
  "$BENCH" --mode memory --data "$DIR/data.npy" --epochs "$EPOCHS" --batch "$BATCH" >>"$DIR/results.jsonl"
  for b in $BUFFERS; do
    "$BENCH" --mode stream --data "$DIR/data.npy" --buffer-mb "$b" --epochs "$EPOCHS" \
      --batch "$BATCH" >>"$DIR/results.jsonl"
  done
done
python3 - "$DIR/results.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in runs:
    groups.setdefault((r["mode"], r["buffer_mb"]), []).append(r)
memory = statistics.median(r["samples_per_s"] for r in groups[("memory", 0)])
print("| mode | buffer MiB | samples/s median (best) | vs memory | epoch's reads alone s | load s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (mode, buf), rs in groups.items():
    sps = [r["samples_per_s"] for r in rs]
    print(f"| {mode} | {buf or '-'} | {statistics.median(sps):,.0f} ({max(sps):,.0f}) | "
          f"{statistics.median(sps) / memory:.2f} | {statistics.median(r['read_epoch_s'] for r in rs):.2f} | "
          f"{statistics.median(r['load_s'] for r in rs):.2f} | {statistics.median(r['peak_rss_mib'] for r in rs):.0f} |")
PY
