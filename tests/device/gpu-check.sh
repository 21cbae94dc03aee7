#!/usr/bin/env bash
# tests/device/gpu-check.sh - the GPU checks of issue 21, for a machine with an NVIDIA GPU
# (the `device` tool: run it from the repository root with `carry: ["out"]`, out/isolate built
# by ./build.sh). Not part of the test suite: CI machines have no GPU. Each step prints what
# it ran and what came back; the exit status is 1 if any step failed. About a minute.
#
#   1. isolate info: the GPUs and driver files found, the cgroup version
#   2. --gpus all -- nvidia-smi -L on the default root (the host's files), the device cgroup
#      in force: and without --gpus, nvidia-smi finds no GPU
#   3. the same in a root made of the host's glibc alone (ld.so, libc, libm, libdl,
#      libpthread, librt): nvidia-smi and the driver's libraries come from --gpus
#   4. a CUDA program (PyTorch, where the host has it) under --gpus all --memory 8g
#   5. with nvidia-ctk on the host: its generated CDI spec through --device nvidia.com/gpu=all
set -u
isolate=${ISOLATE:-$PWD/out/isolate}
work=$(mktemp -d /tmp/gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
step() { echo; echo "== $*"; }
expect() { # expect STATUS COMMAND...: run it, and compare its exit status
  local want=$1; shift
  echo "\$ $*"
  "$@"
  local got=$?
  if [ "$got" != "$want" ]; then echo "!! exit $got, expected $want"; failed=1; fi
}

step "host"
nvidia-smi -L; uname -r; stat -fc 'cgroup fs: %T' /sys/fs/cgroup; "$isolate" --version

step "1 isolate info"
expect 0 "$isolate" info

step "2 the default root"
expect 0 "$isolate" run --gpus all -- nvidia-smi -L
expect 0 "$isolate" run --gpus 1 -- sh -c 'ls -l /dev/nvidia*; echo NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES'
# no GPU given: no node, and the device cgroup refuses one the container makes
expect 0 "$isolate" run -- sh -c '! nvidia-smi -L'
expect 0 "$isolate" run -- sh -c 'mknod /dev/g c 195 0 && ! head -c1 /dev/g'

step "3 a root of the host's glibc alone"
root="$work/glibc-root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib64}
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
  [ -n "$path" ] && mkdir -p "$root$(dirname "$path")" && cp -L "$path" "$root$path"
done
expect 0 "$isolate" run --rootfs "$root" --gpus all -- /usr/bin/nvidia-smi -L

step "4 CUDA (PyTorch) with a memory limit"
if python3 -c 'import torch' 2>/dev/null; then
  expect 0 "$isolate" run --gpus all --memory 8g -- python3 -c \
    'import torch; x = torch.randn(4096, 4096, device="cuda"); print(torch.cuda.get_device_name(0), "matmul sum", float((x @ x).sum()))'
else
  echo "(no PyTorch on this host: skipped)"
fi

step "5 the CDI spec nvidia-ctk generates"
if command -v nvidia-ctk >/dev/null; then
  mkdir -p "$work/cdi"
  nvidia-ctk cdi generate --output "$work/cdi/nvidia.yaml" >/dev/null 2>&1
  expect 0 "$isolate" --cdi-spec-dir "$work/cdi" run --device nvidia.com/gpu=all -- nvidia-smi -L
  expect 0 "$isolate" --cdi-spec-dir "$work/cdi" run --rootfs "$root" --gpus all -- /usr/bin/nvidia-smi -L
else
  echo "(no nvidia-ctk on this host: skipped)"
fi

echo
[ "$failed" = 0 ] && echo "all GPU checks passed" || echo "some GPU checks failed"
exit "$failed"
