#!/usr/bin/env bash
# bench/network.sh - what a network costs a start, and what a published port carries, side by
# side with podman in the same run. Needs root, hyperfine, jq, busybox-static, podman, and
# iperf3 for the throughput part (skipped without it). RUNS (default 30) per command.
#
#   start latency: isolate run --network none | bridge | -p, podman run --network none | bridge
#   throughput:    iperf3 through a published port on 127.0.0.1 (10 s each), isolate vs podman
#
# Prints one line per command (median ms) and the ratios. Nothing is timed in a test: rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
isolate=${ISOLATE:-$PWD/out/isolate}
. bench/lib.sh
bench_need hyperfine jq busybox podman
work=$(mktemp -d /tmp/isolate-netbench.XXXXXX)
trap 'podman rm -f isolate-netbench >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# one busybox root for Isolate, and the same as a local podman image
root="$work/rootfs"
mkdir -p "$root/bin" "$root/etc"
cp "$(command -v busybox)" "$root/bin/"
for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
tar -C "$root" -c . | podman import - localhost/isolate-netbench:latest >/dev/null
# root here lacks CAP_SYS_RESOURCE: podman's default rlimits cannot be set (../shared/PEERS.md)
limits="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
# crun refuses this hybrid cgroup host; podman runs runc here
podman="podman --runtime runc"
# a non-root user's bridge (slirp4netns), on a copy of the root that user owns
user=4242
rootless=()
if command -v slirp4netns >/dev/null && command -v setpriv >/dev/null; then
  cp -a "$root" "$work/userroot" && chown -R $user:$user "$work/userroot" && chmod 755 "$work"
  cp "$isolate" "$work/isolate" && chmod 755 "$work/isolate"
  as_user="setpriv --reuid $user --regid $user --clear-groups -- env -u XDG_RUNTIME_DIR HOME=$work"
  rootless=("$as_user $work/isolate run --rootfs $work/userroot -- true" "$as_user $work/isolate run --network bridge --rootfs $work/userroot -- true")
fi

hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$work/start.json" \
  "$isolate run --rootfs $root -- true" \
  "$isolate run --network bridge --rootfs $root -- true" \
  "$isolate run -p 18999:80 --rootfs $root -- true" \
  "$podman run --rm $limits --network none localhost/isolate-netbench true" \
  "$podman run --rm $limits --network bridge localhost/isolate-netbench true" \
  "${rootless[@]}" >/dev/null
jq -r '.results[] | "\(.median * 1000 | floor) ms  \(.command)"' "$work/start.json"
jq -r '.results | "bridge vs none (isolate): \(.[1].median / .[0].median * 100 | floor / 100)x; isolate bridge vs podman bridge: \(.[1].median / .[4].median * 100 | floor / 100)x"' "$work/start.json"
if [ ${#rootless[@]} -gt 0 ]; then
  jq -r '.results | "rootless: slirp4netns bridge vs none: \(.[6].median / .[5].median * 100 | floor / 100)x; rootless bridge vs podman bridge (root): \(.[6].median / .[4].median * 100 | floor / 100)x"' "$work/start.json"
fi

if command -v iperf3 >/dev/null; then
  cp "$(command -v iperf3)" "$work/" 2>/dev/null || true
  echo "throughput through a published port (127.0.0.1, 10 s):"
  # iperf3 is dynamically linked: it runs on the host's root (Isolate's default) in both
  # iperf3 keeps its stream buffers in /tmp: both have one
  "$isolate" run -d --name isolate-netbench-iperf -p 15201:5201 -- iperf3 -s -1 >/dev/null
  sleep 1
  iperf3 -c 127.0.0.1 -p 15201 -t 10 -J | jq -r '"  isolate: \(.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100) Gbit/s"'
  "$isolate" rm -f isolate-netbench-iperf >/dev/null 2>&1 || true
  $podman run -d $limits --tmpfs /tmp --name isolate-netbench -p 15202:5201 -v /usr/bin/iperf3:/usr/bin/iperf3:ro -v /usr/lib:/usr/lib:ro -v /lib:/lib:ro -v /lib64:/lib64:ro \
    localhost/isolate-netbench /usr/bin/iperf3 -s -1 >/dev/null
  sleep 1
  iperf3 -c 127.0.0.1 -p 15202 -t 10 -J | jq -r '"  podman:  \(.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100) Gbit/s"'
else
  echo "throughput: iperf3 is not installed (apt-get install iperf3)"
fi
