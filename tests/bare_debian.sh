#!/usr/bin/env bash
# Runs the README's two commands on a bare Debian 12: debootstraps a minimal bookworm root,
# clones this repository's HEAD commit into it and, chrooted there with an empty environment,
# checks that
#   1. as a user who is neither root nor a sudoer, `tools/workflow.sh demo` exits 2 with the one
#      line naming the apt-get command;
#   2. as root, `tools/workflow.sh demo` installs the packages, builds and trains the example
#      (the run folder holds its pictures);
#   3. `tools/workflow.sh test` builds everything and passes every test (CPU only: the CUDA
#      toolkit is not a Debian package; the MNIST tests skip, ../shared/data/mnist is not there);
#   4. running the main job again installs nothing.
# Prints the time of each step. Needs root, debootstrap and about 3 GB under DIR.
#   tests/bare_debian.sh [DIR]   (default /tmp/ae-bare-debian; removed before and after)
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
root=$(realpath -m "${1:-/tmp/ae-bare-debian}")
mirror=${AE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

[[ $(id -u) -eq 0 ]] || { echo "bare_debian: needs root (debootstrap, mount, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null ||
  { echo "bare_debian: needs debootstrap: apt-get install -y debootstrap" >&2; exit 2; }
[[ $root != / ]] || { echo "bare_debian: DIR must not be /" >&2; exit 2; }

mounts=(proc sys dev dev/pts)
cleanup() {
  local m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=$root/${mounts[i]}
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
  # Never delete through a mount that is still there (the host's /dev, /proc, /sys).
  if grep -q " $root/" /proc/mounts; then
    echo "bare_debian: mounts remain under $root; not removing it" >&2
  else
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT
cleanup

declare -a names times
step() {  # step NAME COMMAND...: runs it, records its wall time; stops the script on failure
  local name=$1 start=$SECONDS
  shift
  echo "== bare_debian: $name"
  "$@"
  names+=("$name")
  times+=($((SECONDS - start)))
  echo "== bare_debian: $name: $((SECONDS - start)) s"
}
# Root in the new root, in the clone, with a clean environment (nothing from this shell: no
# ccache settings, no PATH to a CUDA toolkit).
as_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /src/ae && $1"
}

make_root() {
  debootstrap --variant=minbase bookworm "$root" "$mirror"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # Like resolv.conf, this machine's way to PyPI: the CA bundle pip trusts here (a proxy's CA),
  # for the test workflow's pip install.
  local ca=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
  if [[ -n $ca && -f $ca ]]; then
    cp "$ca" "$root/etc/host-ca.crt"
    printf '[global]\ncert = /etc/host-ca.crt\n' >"$root/etc/pip.conf"
  fi
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  # The clone, as a newcomer gets it: the committed state, nothing ignored or uncommitted.
  git clone --quiet --no-hardlinks "$repo" "$root/src/ae"
  git -C "$root/src/ae" checkout --quiet --detach "$commit"
  chmod -R a+rX "$root/src"
}

refused_without_root() {
  local out rc=0
  out=$(chroot --userspec=65534:65534 "$root" /usr/bin/env -i HOME=/tmp PATH=/usr/bin:/bin \
        /bin/bash -c "cd /src/ae && tools/workflow.sh demo" 2>&1) || rc=$?
  echo "$out"
  [[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == "ae: missing Debian packages; run: sudo apt-get install -y "* ]] ||
    { echo "bare_debian: expected exit 2 and one line naming apt-get, got exit $rc" >&2; return 1; }
}

demo() {
  as_root "tools/workflow.sh demo"
  as_root "ls build/release/runs/vae-*/latent.png build/release/runs/vae-*/samples.png"
}

test_all() {
  as_root "tools/workflow.sh test" | tee "$root/test.log"
  # Every registered CPU test ran (ctest's summary counts them), none failed.
  local registered
  registered=$(as_root "ctest --test-dir build/release -N -L cpu" | sed -n 's/^Total Tests: //p')
  grep -q "100% tests passed, 0 tests failed out of" "$root/test.log"
  # The Python package was built from Debian's python3 in build/venv and its tests ran.
  grep -Eq "python\.pytest \.+ +Passed" "$root/test.log" ||
    { echo "bare_debian: the Python tests (python.pytest) did not run and pass" >&2; return 1; }
  echo "bare_debian: $registered CPU tests registered;" \
       "$(grep -c '(Skipped)' "$root/test.log" || true) skipped as a whole (ctest):"
  grep '(Skipped)' "$root/test.log" || true
}

demo_again() {
  local out
  out=$(as_root "tools/workflow.sh demo" 2>&1)
  echo "$out" | tail -3
  ! grep -q "ae: installing" <<<"$out" || { echo "bare_debian: the second run installed again" >&2; return 1; }
}

step "debootstrap Debian 12 + clone $commit" make_root
step "demo as a user without root or sudo" refused_without_root
step "README main job (tools/workflow.sh demo)" demo
step "README tests (tools/workflow.sh test)" test_all
step "main job again (nothing to install)" demo_again

echo "== bare_debian: passed ($(nproc) cores); wall time per step:"
for i in "${!names[@]}"; do printf '%6d s  %s\n' "${times[i]}" "${names[i]}"; done
