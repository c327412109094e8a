#!/usr/bin/env bash
# bench/gpu_check.sh without a GPU: its budget arithmetic and its logic, with stub binaries in
# place of the carried ones, compute-sanitizer and python3, and time compressed (UNIT real
# seconds per planned second). ctest runs it as gpu_check.dry_run (label cpu); by hand:
#   bash bench/gpu_check_dry_run.sh        (about 15 s; exit 1 and the failed checks on failure)
#
# Checked: the default plan is device, suite, steps, saepeers, memcheck, nccl, huge and fits
# 440 s at SCALE=1 and 220 s at SCALE=0.5, while a plan over its total is refused before it
# starts; with every part passing, each part's row is ok, the suite leaves out the 2^31/2^32
# tests, which run last, memcheck runs the filtered suite, and saepeers installs the carried
# wheels, runs sae_peers.py on the GPU with them and the carried ae and names ae's encoder GEMM;
# without wheels, or with wheels that do not install or import, saepeers runs ae alone and says
# why; with parts that hang, ignore SIGTERM, fail or differ, each gets its status, the stopped
# ones leave no process behind, the comparison table of a partial peers run still prints, and the
# whole run ends within its planned total; without a device every part says so; stopped from
# outside (SIGTERM), the summary prints what ran.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
CHECK=$ROOT/bench/gpu_check.sh
TMP=$(mktemp -d /tmp/ae_gpu_check_dry.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
UNIT=${UNIT:-0.1}
export DRY_TAG=$((100000 + RANDOM % 800000))  # marks the stubs' sleeping processes
failures=0
checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  checks=$((checks + 1))
  "$@" || fail "$what"
}
has() { grep -qE -- "$2" "$1"; }
row_of() { grep -E "^\| $2 +\|" "$1" | tail -1; }  # the last table row of part $2 in file $1
row_has() { row_of "$1" "$2" | grep -qE -- "$3"; }

# --- the stubs ------------------------------------------------------------------------------------
STUB=$TMP/stub
mkdir -p "$STUB/carry/bin" "$STUB/carry/lib" "$STUB/carry/wheels"
echo "not a wheel (dry run)" >"$STUB/carry/wheels/stub-1.0-py3-none-any.whl"
echo "commit stub (dry run)" >"$STUB/carry/MANIFEST"
# Every stub: its call logged, then the behaviour DRY_<PART> asks for (ok unless set): hang
# (sleeps), stubborn (ignores SIGTERM, sleeps), fail, nodevice, and per stub a few more.
cat >"$STUB/behave.sh" <<'EOF'
echo "$PART $(basename "$0") $*" >>"$DRY_CALLS"
var=DRY_$(echo "$PART" | tr a-z A-Z)
mode=${!var:-ok}
case $mode in
  hang) echo "[ RUN      ] Stub.Slow"; exec sleep "999.$DRY_TAG" ;;
  stubborn) echo "[ RUN      ] Stub.Stubborn"; trap '' TERM; exec sleep "999.$DRY_TAG" ;;
esac
EOF
cat >"$STUB/carry/bin/ae_tests_gpu" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/../../behave.sh"
case $mode in
  nodevice) echo "gpu tests skipped: no CUDA device"; exit 77 ;;
  fail) echo "[ RUN      ] Stub.Broken"; echo "[  FAILED  ] Stub.Broken (1 ms)"; echo "[  FAILED  ] Stub.Broken"; exit 1 ;;
  *) echo "gpu tests on Stub GPU"; echo "cuBLAS: /stub/libcublas.so.13"; echo "[ RUN      ] Stub.Test"
     echo "[       OK ] Stub.Test (1 ms)"; echo "[  PASSED  ] 3 tests." ;;
esac
EOF
cat >"$STUB/carry/bin/ae" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/../../behave.sh"
if [ "$1" = info ]; then
  echo "backends: cpu, cuda built"
  if [ "$mode" = nodevice ]; then echo "devices: cpu (2 threads), no usable CUDA device; default cpu"
  else echo "devices: cpu (2 threads), cuda:0 (Stub GPU); default cuda:0"; fi
  exit 0
fi
[ "$mode" = fail ] && { echo "ae: stub failure" >&2; exit 2; }
all="$*"
out=${all##*--out }
case $out in /*) ;; *) echo "stub ae: --out must be absolute here, got '$out'" >&2; exit 3 ;; esac
mkdir -p "$out"
bytes="stub checkpoint"
[ "$mode" = differ ] && [ -n "${AE_COMM:-}" ] && bytes="another checkpoint"
[ "$mode" = leftid ] && [ -n "${AE_NCCL_ID_FILE:-}" ] && echo id >"$AE_NCCL_ID_FILE"
echo "$bytes" >"$out/latest.safetensors"
EOF
cat >"$STUB/carry/bin/ae_bench_steps" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/../../behave.sh"
case $mode in
  nodevice) echo "ae_bench_steps: no usable CUDA device; nothing to measure"; exit 0 ;;
  fail) echo "ae_bench_steps: stub failure"; exit 1 ;;
esac
all="$*"
out=${all##*--out }
case $out in /*) ;; *) echo "stub ae_bench_steps: --out must be absolute here, got '$out'" >&2; exit 3 ;; esac
mkdir -p "$out"
echo '{"results": []}' >"$out/ae_steps.json"
echo "| ae stub table |"
EOF
cat >"$STUB/carry/bin/ae_bench_sae_step" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/../../behave.sh"
echo '{"device": "cuda:0", "kind": "topk", "precision": "tf32", "inputs": 768, "latents": 16384, "k": 32, "batch": 4096, "step_us": 12, "gemm_us": 10, "ratio": 1.200, "gemm_gflops": 300000.0, "samples_per_s": 341333333, "peak_rss_mib": 900}'
EOF
cp "$STUB/carry/bin/ae_tests_gpu" "$STUB/carry/bin/ae_bench_kernels"
cat >"$STUB/compute-sanitizer" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/behave.sh"
case $mode in
  fail) echo "========= Invalid __global__ write of size 4 bytes"; echo "========= ERROR SUMMARY: 1 error"; exit 99 ;;
  nodevice) echo "gpu tests skipped: no CUDA device"; exit 77 ;;
  *) echo "[  PASSED  ] 2 tests."; echo "========= ERROR SUMMARY: 0 errors" ;;
esac
EOF
cat >"$STUB/python3" <<'EOF'
#!/usr/bin/env bash
. "$(dirname "$0")/behave.sh"
case $1 in
  -c) [ "$mode" = notorch ] && exit 1; echo "2.9.0 CUDA 13.0 available" ;;
  -m)  # pip install ... --target DIR WHEELS
    [ "$mode" = badwheels ] && { echo "ERROR: stub.whl is not a valid wheel filename."; exit 1; }
    all="$*"; target=${all##*--target }; mkdir -p "${target%% *}" ;;
  */sae_peers.py)
    echo "PYTHONPATH=${PYTHONPATH:-} AE_CLI=$AE_CLI" >>"$DRY_CALLS"
    all="$*"; out=${all##*--out }; out=${out%% *}
    case $out in /*) ;; *) echo "stub python3: --out must be absolute here, got '$out'" >&2; exit 3 ;; esac
    "$AE_CLI" train --model topk --device cuda --out "$(dirname "$out")/stub_ae_run" ||
      { echo "ae-topk: exit 2; the end of ae-topk.log:"; exit 1; }
    echo '{"sizes": {}}' >"$out"
    echo "| size | trainer | precision | samples/s | ae / it |" >"${out%.json}.md"
    echo "| gpu16k | sparsify-topk | bf16 autocast | 100 | 2.50 |" >>"${out%.json}.md"
    [ "$mode" = noimport ] && echo "peers skipped (sparsify-topk, sparsify-topk-fp32): python3 cannot \`import torch, sparsify, schedulefree\`"
    case $mode in
      deadline) echo "summary: gpu16k: ae-topk-tf32 (tf32) / sparsify-topk (bf16 autocast) 2.50x"; exit 3 ;;
    esac
    echo "summary: gpu16k: ae-topk-tf32 (tf32) / sparsify-topk (bf16 autocast) 2.50x | gpu64k: ..." ;;
  */bench_peers.py)
    all="$*"; out=${all##*--out }; out=${out%% *}
    case $out in /*) ;; *) echo "stub python3: --out must be absolute here, got '$out'" >&2; exit 3 ;; esac
    echo '{"results": []}' >"$out"
    [ "$mode" = peershang ] && { echo "  ae b=4096 fp32 compile: ..."; exec sleep "999.$DRY_TAG"; }
    echo "peers: stub" ;;
  */compare.py) echo "| model | batch | ae graph us | PyTorch eager |"; echo "| ae | 256 | 1.0 | 2.0 |" ;;
esac
EOF
chmod +x "$STUB"/carry/bin/* "$STUB/compute-sanitizer" "$STUB/python3"

# run_check NAME [VAR=VALUE...]: gpu_check.sh on the stubs (its output in $TMP/NAME.txt, its
# files in $TMP/NAME/); sets rc and seconds (real).
run_check() {
  local name=$1 t0
  shift
  export DRY_CALLS=$TMP/$name.calls
  : >"$DRY_CALLS"
  t0=${EPOCHREALTIME:-$(date +%s.%N)}
  env CARRY="$STUB/carry" SANITIZER="$STUB/compute-sanitizer" PYTHON="$STUB/python3" UNIT="$UNIT" \
    OUT="$TMP/$name" "$@" bash "$CHECK" >"$TMP/$name.txt" 2>&1
  rc=$?
  seconds=$(awk "BEGIN { printf \"%.2f\", ${EPOCHREALTIME:-$(date +%s.%N)} - $t0 }")
  echo "  $name: exit $rc in $seconds s"
}
no_stub_left() {  # no stub process still sleeping (a part stopped leaves nothing running)
  sleep 0.3
  local f
  for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' <"$f" 2>/dev/null | grep -q "^sleep 999.$DRY_TAG"; then
      echo "  left running: pid $(basename "$(dirname "$f")")"
      return 1
    fi
  done
}
within() { awk "BEGIN { exit !($1 <= $2) }"; }

# --- the plan's arithmetic -------------------------------------------------------------------------
echo "plan:"
bash "$CHECK" --plan >"$TMP/plan.txt"
check "the default plan fits 440 s" [ $? = 0 ]
check "the default plan is device suite steps saepeers memcheck nccl huge" \
  [ "$(awk 'NR > 1 && NF == 4 { printf "%s ", $1 }' "$TMP/plan.txt")" = "device suite steps saepeers memcheck nccl huge " ]
check "the plan says its total" has "$TMP/plan.txt" "7 parts: .* 411 s of 440 s"
SCALE=0.5 bash "$CHECK" --plan >"$TMP/plan_half.txt"
check "the default plan fits 220 s at SCALE=0.5" [ $? = 0 ]
check "... with its total" has "$TMP/plan_half.txt" "7 parts: .* 218.5 s of 220 s"
PARTS="device suite steps saepeers memcheck nccl huge kernels" bash "$CHECK" --plan >"$TMP/plan_over.txt"
check "a plan over 440 s is refused" [ $? = 1 ]
check "the refusal names the totals" has "$TMP/plan_over.txt" "the plan takes 454 s, more than 440 s"
PARTS="suite bogus" bash "$CHECK" --plan >"$TMP/plan_bogus.txt"
check "an unknown part is refused" [ $? = 1 ]
run_check over PARTS="device suite steps saepeers memcheck nccl huge kernels"
check "a run over its plan does not start" [ $rc = 2 ]
check "it says why" has "$TMP/over.txt" "refusing to start: the plan does not fit"
check "and runs nothing" [ ! -s "$TMP/over.calls" ]

# --- every part passing ------------------------------------------------------------------------
echo "runs (UNIT=$UNIT real s per planned s):"
run_check ok
check "all ok: exit 0" [ $rc = 0 ]
for p in device suite steps saepeers memcheck nccl huge; do
  check "all ok: $p's row is ok" row_has "$TMP/ok.txt" "$p" "\| ok +\|"
done
check "all ok: the table's rows in plan order" \
  [ "$(sed -n '/^| part /,$p' "$TMP/ok/summary.txt" | grep -E '^\| [a-z]+ +\| ' | grep -v '^| part ' | awk '{print $2}' | tr '\n' ' ')" = "device suite steps saepeers memcheck nccl huge " ]
check "the suite leaves out the 2^31/2^32 tests" has "$TMP/ok.calls" "^suite ae_tests_gpu --gtest_color=no --gtest_filter=-\*Huge\*$"
check "they run last" [ "$(tail -1 "$TMP/ok.calls")" = "huge ae_tests_gpu --gtest_color=no --gtest_filter=*Huge*" ]
check "memcheck runs the suite under --leak-check full" has "$TMP/ok.calls" "^memcheck compute-sanitizer --tool memcheck --leak-check full .*ae_tests_gpu"
for t in '\*Huge\*' '\*Large\*' 'PhiloxSincos\.\*' 'GpuStepTrain\.\*' 'CommNcclGpu\.\*'; do
  check "memcheck's filter leaves out $t" has "$TMP/ok.calls" "^memcheck .*--gtest_filter=-.*$t"
done
check "nccl trains plain, through NCCL and through the id file" \
  [ "$(grep -c '^nccl ae train' "$TMP/ok.calls" | tr -d ' ')" = 3 ]
check "the comparison table prints in the summary" has "$TMP/ok.txt" "^\| ae \| 256 \| 1.0 \| 2.0 \|"
check "summary.txt holds the table" has "$TMP/ok/summary.txt" "^\| part +\| status"
check "steps measures six sparse autoencoder steps" [ "$(grep -c '^steps ae_bench_sae_step --device cuda' "$TMP/ok.calls" | tr -d ' ')" = 6 ]
check "two of them in TF32" [ "$(grep -c '^steps ae_bench_sae_step --device cuda.*--precision tf32' "$TMP/ok.calls" | tr -d ' ')" = 2 ]
check "their ratios print in the summary" has "$TMP/ok/summary.txt" "sae step / encoder GEMM .*topk tf32 n=16384: 1.200 \\(GEMM 300000.0 GFLOP/s\\)"
check "peers.json and ae_steps.json are kept" [ -f "$TMP/ok/peers.json" ] && [ -f "$TMP/ok/ae_steps.json" ]
check "saepeers installs the carried wheels, offline, into a folder of its own" \
  has "$TMP/ok.calls" "^saepeers python3 -m pip install -q --no-index --no-deps .*--target /tmp/ae_gpu_check\.[^ ]*/site $STUB/carry/wheels/stub-1.0-py3-none-any.whl$"
check "saepeers runs sae_peers.py on the GPU, up to a deadline" \
  has "$TMP/ok.calls" "^saepeers python3 bench/peers/sae_peers.py --device cuda --work /.* --out $TMP/ok/sae_peers.json --deadline [0-9.]+$"
check "... with the wheels on its PYTHONPATH" has "$TMP/ok.calls" "^PYTHONPATH=/tmp/ae_gpu_check\.[^ ]*/site AE_CLI="
check "... and the carried ae" has "$TMP/ok.calls" "^saepeers ae train --model topk --device cuda --out $TMP/ok/stub_ae_run$"
check "saepeers' row: the ratios and ae's encoder GEMM from the steps part" \
  row_has "$TMP/ok.txt" saepeers "ae-topk-tf32 \(tf32\) / sparsify-topk \(bf16 autocast\) 2.50x.*encoder GEMM alone \(topk tf32 n=16384, steps part\): 300000.0 GFLOP/s, 61% of 495 TFLOP/s"
check "its table prints in the summary" has "$TMP/ok/summary.txt" "^\| gpu16k \| sparsify-topk \| bf16 autocast \| 100 \| 2.50 \|"
check "sae_peers.json, .md and .log are kept" [ -f "$TMP/ok/sae_peers.json" ] && [ -f "$TMP/ok/sae_peers.md" ] && [ -s "$TMP/ok/sae_peers.log" ]

# --- parts that hang, ignore SIGTERM, fail or differ, at SCALE=0.5 -------------------------------
run_check bad SCALE=0.5 DRY_SUITE=hang DRY_STEPS=peershang DRY_SAEPEERS=fail DRY_MEMCHECK=fail DRY_NCCL=differ DRY_HUGE=stubborn
check "bad: exit 1" [ $rc = 1 ]
check "bad: device ok" row_has "$TMP/bad.txt" device "\| ok +\|"
check "bad: a hung suite times out, naming its last test" \
  row_has "$TMP/bad.txt" suite "\| TIMEOUT +\| .*stopped at its 22.5 s budget .*last: \[ RUN      \] Stub.Slow"
check "bad: peers stopped at the part's deadline keep their table" row_has "$TMP/bad.txt" steps "\| peers 1(24|37) +\|"
check "bad: ... which prints" has "$TMP/bad.txt" "^\| ae \| 256 \| 1.0 \| 2.0 \|"
check "bad: a failed sae_peers.py fails saepeers, naming the run" \
  row_has "$TMP/bad.txt" saepeers "\| FAILED +\|.*\| sae_peers.py exit 1: ae-topk: exit 2;"
check "bad: memcheck's error is named" row_has "$TMP/bad.txt" memcheck "\| FAILED +\|.*\| exit 99; ERROR SUMMARY: 1 error; .*Invalid"
check "bad: differing checkpoints fail nccl" row_has "$TMP/bad.txt" nccl "\| FAILED +\|.*\| the one-rank NCCL checkpoint differs"
check "bad: a part ignoring SIGTERM is killed" row_has "$TMP/bad.txt" huge "\| TIMEOUT +\| .*Stub.Stubborn"
check "bad: the summary prints last" [ "$(tail -1 "$TMP/bad.txt" | cut -c1-6)" = "total " ]
check "bad: every part has its row" [ "$(grep -cE '^\| [a-z]+ +\| ' "$TMP/bad/summary.txt")" -ge 14 ]
check "bad: the run ends within its planned 220 s (+2 s of process start-ups)" within "$seconds" "$(awk "BEGIN { print 220 * $UNIT + 2 }")"
check "bad: no stopped part left running" no_stub_left

# --- no device -------------------------------------------------------------------------------------
run_check nodev DRY_DEVICE=nodevice DRY_SUITE=nodevice
check "no device: exit 1" [ $rc = 1 ]
for p in device suite steps saepeers memcheck nccl huge; do
  check "no device: $p says so" row_has "$TMP/nodev.txt" "$p" "\| no device +\|"
done
check "no device: only the suite ran after the device part" [ "$(grep -vc '^device ' "$TMP/nodev.calls")" = 1 ]
check "no device: the suite says why" row_has "$TMP/nodev.txt" suite "\| no device +\|.*gpu tests skipped: no CUDA device"
run_check leftid DRY_NCCL=leftid PARTS="nccl"
check "an id file left behind fails nccl" row_has "$TMP/leftid.txt" nccl "\| FAILED +\|.*\| the NCCL id file was left behind"
run_check notorch DRY_STEPS=notorch PARTS="steps"
check "without PyTorch, steps says ae only" row_has "$TMP/notorch.txt" steps "\| ae only +\|"
run_check notorch_sae DRY_SAEPEERS=notorch PARTS="saepeers"
check "without PyTorch, saepeers does not run" row_has "$TMP/notorch_sae.txt" saepeers "\| not run +\|.*not importable"
run_check nowheels WHEELS="$TMP/no_wheels" PARTS="saepeers"
check "without wheels, saepeers runs ae alone and says so" \
  row_has "$TMP/nowheels.txt" saepeers "\| ae only +\|.*\| sparsify skipped: no wheels in $TMP/no_wheels "
check "... installing nothing" [ "$(grep -c ' -m pip' "$TMP/nowheels.calls" | tr -d ' ')" = 0 ]
check "... and asking for ae's trainers alone" has "$TMP/nowheels.calls" "sae_peers.py --device cuda --trainers ae-topk-tf32,ae-topk "
check "... with no wheels on its PYTHONPATH" has "$TMP/nowheels.calls" "^PYTHONPATH= AE_CLI="
run_check badwheels DRY_SAEPEERS=badwheels PARTS="saepeers"
check "wheels that do not install: saepeers runs ae alone and says why" \
  row_has "$TMP/badwheels.txt" saepeers "\| ae only +\|.*\| sparsify skipped: its wheels did not install \(ERROR: stub.whl is not a valid wheel filename.\)"
run_check noimport DRY_SAEPEERS=noimport PARTS="saepeers"
check "wheels that install but do not import: saepeers says ae only, and why" \
  row_has "$TMP/noimport.txt" saepeers "\| ae only +\|.*\| peers skipped \(sparsify-topk, sparsify-topk-fp32\): python3 cannot"
run_check deadline DRY_SAEPEERS=deadline PARTS="saepeers"
check "runs left out at the deadline: saepeers is partial" row_has "$TMP/deadline.txt" saepeers "\| partial +\|.*past its deadline: gpu16k: "

# --- stopped from outside --------------------------------------------------------------------------
export DRY_CALLS=$TMP/stopped.calls
: >"$DRY_CALLS"
env CARRY="$STUB/carry" SANITIZER="$STUB/compute-sanitizer" PYTHON="$STUB/python3" UNIT="$UNIT" \
  OUT="$TMP/stopped" DRY_SUITE=hang bash "$CHECK" >"$TMP/stopped.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "^suite " "$DRY_CALLS" && break; sleep 0.05; done
sleep 0.2
kill -TERM $pid
wait $pid
rc=$?
echo "  stopped: exit $rc"
check "stopped: exit 2" [ $rc = 2 ]
check "stopped: the running part is marked" row_has "$TMP/stopped.txt" suite "\| STOPPED +\| .*SIGTERM"
check "stopped: the summary prints" has "$TMP/stopped.txt" "^total "
check "stopped: the part before it kept its row" row_has "$TMP/stopped.txt" device "\| ok +\|"
check "stopped: no part left running" no_stub_left

echo "gpu_check dry run: $((checks - failures)) of $checks checks passed"
[ $failures = 0 ]
