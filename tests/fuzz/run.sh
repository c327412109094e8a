#!/usr/bin/env bash
# Builds the libFuzzer targets (in the sanitizer build of the `asan` preset, build/asan) and runs
# each for a bounded time:
#   tests/fuzz/run.sh [SECONDS per target, default 30] [TARGET ...]   (targets: idx csv npy ...)
# Each run starts from the committed seeds (tests/fuzz/corpus/<target>, read only) plus what
# earlier runs found (build/asan/fuzz/corpus/<target>). Limits: 1 GB resident, no single allocation
# above 256 MB (a header claiming an absurd size must be refused before it allocates), 5 s per
# input. ASan's quarantine of freed blocks counts as resident: its default of 256 MB, filled by
# tens of thousands of inputs a second that each inflate up to 2 MB, once took an idx run past a
# 512 MB limit with 24 MB live; here it is held to 64 MB. Prints executions per target and fails
# on any crash, sanitizer report, leak, timeout or out-of-memory; the input that did it is kept
# under build/asan/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]]; then
  echo "run.sh: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

# Configured once (CI has just run the asan workflow there): configuring again with other
# options would change the compile commands and rebuild everything.
[[ -f build/asan/CMakeCache.txt ]] || cmake --preset asan >/dev/null
cmake --build --preset fuzz

build=build/asan
work_root=$build/fuzz
targets=("$@")
if ((${#targets[@]} == 0)); then
  for exe in "$build"/tests/fuzz/fuzz_*; do targets+=("${exe##*/fuzz_}"); done
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=quarantine_size_mb=64${ASAN_OPTIONS:+:$ASAN_OPTIONS}
rows=()
failed=0
for t in "${targets[@]}"; do
  exe=$build/tests/fuzz/fuzz_$t
  [[ -x $exe ]] || { echo "run.sh: no fuzz target '$t' ($exe)" >&2; exit 2; }
  work=$work_root/corpus/$t artifacts=$work_root/artifacts/$t/ log=$work_root/logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=5
        -print_final_stats=1 -artifact_prefix="$artifacts")
  [[ -f tests/fuzz/$t.dict ]] && args+=(-dict="tests/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds}s"
  status=0
  "$exe" "${args[@]}" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  # libFuzzer's own count; "Done N runs" is its last line when the stats line is missing.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  [[ -n $runs ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
  corpus=$(find "$work" -type f | wc -l)
  result=ok
  if ((status != 0)); then
    result="FAILED (exit $status)"
    failed=1
    echo "---- $log (last 40 lines)" >&2
    tail -n 40 "$log" >&2
    echo "---- reproduce: $exe $(ls -t "$artifacts" | head -n1 | sed "s|^|$artifacts|")" >&2
  fi
  rows+=("$(printf '%-12s %12s %8s %10s  %s' "$t" "${runs:-?}" "$seconds" "$corpus" "$result")")
done

echo
printf '%-12s %12s %8s %10s  %s\n' target executions seconds new_inputs result
printf '%s\n' "${rows[@]}"
exit $failed
