#!/usr/bin/env bash
# bench/gpus.sh - what --gpus costs a start, side by side with crun given the same devices.
#
#   sudo bench/gpus.sh            100 timed runs of each (RUNS=N to change)
#
# No GPU is needed: the driver is made here, as the tests make it (GpuDeviceTests): two GPU
# nodes with NVIDIA's major, nvidiactl, nvidia-uvm, libcuda and libnvidia-ml built by gcc
# with their sonames in an ld.so cache (ldconfig -r), and nvidia-smi. One root with the
# host's glibc and busybox. Timed, each running /bin/true:
#   isolate run                      the baseline
#   isolate run --gpus all           the driver found (ld.so cache, /proc, /dev), nodes made
#                                    and allowed, libraries bound with their soname links
#   isolate run --device nvidia.com/gpu=all   the same from an nvidia-ctk-style CDI spec
#   crun run                         runc's default spec
#   crun run + the same edits        what an engine's CDI injection hands crun: the nodes in
#                                    linux.devices and the device cgroup, the same binds
#   crun run + edits + ldconfig hook  and the work of the toolkit's update-ldcache hook: the
#                                    host's ldconfig run on the root as a createContainer hook
# Prints each median and the ratios: isolate --gpus to isolate, crun+edits to crun, and
# isolate --gpus to crun+edits. Needs root, hyperfine, jq, crun, gcc, busybox-static.
# The machine is shared and noisy: compare rows of one run, never across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-100}
. bench/lib.sh
bench_need hyperfine jq crun gcc busybox unshare -- "apt-get install hyperfine jq crun gcc busybox-static util-linux"
bench_need_isolate_as_root
bench_unwrap_hybrid "$0" "$@"

work=$(mktemp -d /var/tmp/bench-gpus.XXXXXX)
trap 'rm -rf "$work"' EXIT
driver="$work/driver"
lib=/usr/lib/x86_64-linux-gnu
mkdir -p "$driver"/{dev,etc,usr/bin,proc/driver/nvidia/gpus} "$driver$lib"
mknod "$driver/dev/nvidia0" c 195 0
mknod "$driver/dev/nvidia1" c 195 1
mknod "$driver/dev/nvidiactl" c 195 255
mknod "$driver/dev/nvidia-uvm" c 509 0
for gpu in 0 1; do
  mkdir -p "$driver/proc/driver/nvidia/gpus/0000:0$gpu:00.0"
  printf 'Model: \t\t Bench GPU\nGPU UUID: \t GPU-0000000%s\nDevice Minor: \t %s\n' "$gpu" "$gpu" > "$driver/proc/driver/nvidia/gpus/0000:0$gpu:00.0/information"
done
echo 'int cuInit(unsigned f) { return (int)f; }' > "$work/cuda.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$driver$lib/libcuda.so.580.65.06" "$work/cuda.c"
gcc -shared -fPIC -Wl,-soname,libnvidia-ml.so.1 -o "$driver$lib/libnvidia-ml.so.580.65.06" "$work/cuda.c"
ldconfig -r "$driver"
printf '#!/bin/sh\necho GPU 0\n' > "$driver/usr/bin/nvidia-smi" && chmod 755 "$driver/usr/bin/nvidia-smi"

# the root: busybox, the host's ld.so and libc
root="$work/bundle/rootfs"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,root,lib64} "$root/lib/x86_64-linux-gnu"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
cp /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp /lib/x86_64-linux-gnu/libc.so.6 "$root/lib/x86_64-linux-gnu/"

# the CDI spec nvidia-ctk would write for it (its hooks done by Isolate)
cdi="$work/cdi"
mkdir -p "$cdi"
jq -n --arg d "$driver" --arg lib "$lib" '{cdiVersion: "0.5.0", kind: "nvidia.com/gpu",
  devices: [{name: "all", containerEdits: {deviceNodes: [{path: "/dev/nvidia0", hostPath: ($d + "/dev/nvidia0")}, {path: "/dev/nvidia1", hostPath: ($d + "/dev/nvidia1")}]}}],
  containerEdits: {env: ["NVIDIA_VISIBLE_DEVICES=void"],
    deviceNodes: [{path: "/dev/nvidiactl", hostPath: ($d + "/dev/nvidiactl")}, {path: "/dev/nvidia-uvm", hostPath: ($d + "/dev/nvidia-uvm")}],
    hooks: [{hookName: "createContainer", path: "/usr/bin/nvidia-cdi-hook", args: ["nvidia-cdi-hook", "update-ldcache", "--folder", $lib]}],
    mounts: [{hostPath: ($d + $lib + "/libcuda.so.580.65.06"), containerPath: ($lib + "/libcuda.so.580.65.06"), options: ["ro", "nosuid", "nodev", "bind"]},
             {hostPath: ($d + $lib + "/libnvidia-ml.so.580.65.06"), containerPath: ($lib + "/libnvidia-ml.so.580.65.06"), options: ["ro", "nosuid", "nodev", "bind"]},
             {hostPath: ($d + "/usr/bin/nvidia-smi"), containerPath: "/usr/bin/nvidia-smi", options: ["ro", "nosuid", "nodev", "bind"]}]}}' > "$cdi/nvidia.json"

# crun: runc's default spec, and the same with the edits an engine's CDI injection makes
bundle="$work/bundle"
out/isolate spec --bundle "$bundle"
jq --arg root "$root" '.ociVersion = "1.0.2" | .process.terminal = false | .process.args = ["/bin/true"] | .root.path = $root | .root.readonly = false' \
  "$bundle/config.json" > "$bundle/c" && mv "$bundle/c" "$bundle/config.json"
gpu_bundle="$work/gpu-bundle"
mkdir -p "$gpu_bundle"
jq --arg d "$driver" --arg lib "$lib" '
  .linux.devices = [{path: "/dev/nvidia0", type: "c", major: 195, minor: 0}, {path: "/dev/nvidia1", type: "c", major: 195, minor: 1},
                    {path: "/dev/nvidiactl", type: "c", major: 195, minor: 255}, {path: "/dev/nvidia-uvm", type: "c", major: 509, minor: 0}]
  | .linux.resources.devices += [{allow: true, type: "c", major: 195, access: "rwm"}, {allow: true, type: "c", major: 509, access: "rwm"}]
  | .mounts += [{destination: ($lib + "/libcuda.so.580.65.06"), type: "bind", source: ($d + $lib + "/libcuda.so.580.65.06"), options: ["ro", "nosuid", "nodev", "bind"]},
                {destination: ($lib + "/libnvidia-ml.so.580.65.06"), type: "bind", source: ($d + $lib + "/libnvidia-ml.so.580.65.06"), options: ["ro", "nosuid", "nodev", "bind"]},
                {destination: "/usr/bin/nvidia-smi", type: "bind", source: ($d + "/usr/bin/nvidia-smi"), options: ["ro", "nosuid", "nodev", "bind"]}]' \
  "$bundle/config.json" > "$gpu_bundle/config.json"
# and with what the toolkit's update-ldcache hook does there: ldconfig on the container's root
# (a createContainer hook, run by crun before the root is pivoted to)
hook_bundle="$work/hook-bundle"
mkdir -p "$hook_bundle"
jq --arg root "$root" '.hooks.createContainer = [{path: "/sbin/ldconfig", args: ["ldconfig", "-r", $root]}]' \
  "$gpu_bundle/config.json" > "$hook_bundle/config.json"
mkdir -p "$work/crun-state"

names=("isolate run" "isolate run --gpus all" "isolate run --device nvidia.com/gpu=all" "crun run" "crun run + the same edits" "crun run + edits + ldconfig hook")
commands=(
  "out/isolate run --rootfs $root -- /bin/true"
  "out/isolate --nvidia-driver-root $driver run --rootfs $root --gpus all -- /bin/true"
  "out/isolate --cdi-spec-dir $cdi run --rootfs $root --device nvidia.com/gpu=all -- /bin/true"
  "crun --root $work/crun-state run --bundle $bundle bench-plain"
  "crun --root $work/crun-state run --bundle $gpu_bundle bench-gpu"
  "crun --root $work/crun-state run --bundle $hook_bundle bench-hook"
)
# a check before timing: each runs, and each GPU form gives the container its GPUs
for i in "${!commands[@]}"; do
  ${commands[$i]} || { echo "bench: '${names[$i]}' failed: ${commands[$i]}" >&2; exit 1; }
done
out/isolate --nvidia-driver-root "$driver" run --rootfs "$root" --gpus all -- sh -c 'ls /dev/nvidia1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 >/dev/null' \
  || { echo "bench: isolate --gpus all did not give the container its GPUs" >&2; exit 1; }

args=()
for i in "${!commands[@]}"; do args+=(-n "${names[$i]}" "${commands[$i]}"); done
hyperfine -N --style basic --warmup 10 --runs "$RUNS" --export-json "$work/result.json" "${args[@]}" >/dev/null

jq -r '.results[] | "\(.command)\t\(.median * 1000 | . * 100 | round / 100) ms"' "$work/result.json" | column -t -s $'\t'
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$work/result.json"; }
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "isolate --gpus all / isolate run:                 $(ratio 'isolate run --gpus all' 'isolate run')"
echo "isolate --device nvidia.com/gpu=all / isolate run: $(ratio 'isolate run --device nvidia.com/gpu=all' 'isolate run')"
echo "crun + the same edits / crun run:                  $(ratio 'crun run + the same edits' 'crun run')"
echo "isolate --gpus all / crun + the same edits:        $(ratio 'isolate run --gpus all' 'crun run + the same edits')"
echo "isolate --gpus all / crun + edits + ldconfig hook:  $(ratio 'isolate run --gpus all' 'crun run + edits + ldconfig hook')"
