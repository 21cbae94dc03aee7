#!/usr/bin/env bash
# bench/images.sh - pull + unpack of a ~100 MB image from a local registry, and a start from
# an image, side by side with skopeo + umoci and podman in the same run. Needs root,
# hyperfine, jq, busybox-static, docker-registry, skopeo, umoci, podman. RUNS (default 5)
# pulls per tool, STARTS (default 30) starts per command.
#
#   pull:  isolate pull | skopeo copy + umoci unpack | podman pull, each into an empty store
#   start: isolate run IMAGE true | isolate run --rootfs DIR true | podman run --rm IMAGE true
#
# Prints one line per command (median) and the ratios. Nothing is timed in a test: rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
STARTS=${STARTS:-30}
isolate=${ISOLATE:-$PWD/out/isolate}
. bench/lib.sh
bench_need hyperfine jq busybox docker-registry skopeo umoci podman
work=$(mktemp -d /tmp/isolate-imgbench.XXXXXX)
port=$((20000 + RANDOM % 20000))
trap 'kill $registry 2>/dev/null || true; podman --root "$work/podman" rmi -af >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# the image: busybox and 100 files of 1 MiB random data (incompressible: ~100 MB on the wire)
root="$work/rootfs"
mkdir -p "$root/bin" "$root/etc" "$root/data"
cp "$(command -v busybox)" "$root/bin/"
for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
for i in $(seq 1 100); do head -c 1048576 /dev/urandom > "$root/data/$i"; done
(cd "$work" && umoci init --layout img && umoci new --image img:1 && umoci unpack --image img:1 bundle >/dev/null \
  && cp -a "$root/." bundle/rootfs/ && umoci repack --image img:1 bundle) >/dev/null

printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: 127.0.0.1:%s\n' "$work" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref="127.0.0.1:$port/bench:1"
skopeo copy -q --dest-tls-verify=false "oci:$work/img:1" "docker://$ref"
echo "image: $(du -sh "$work/registry" | cut -f1) in the registry"

podman="podman --root $work/podman --runroot $work/podman-run --runtime runc"
hyperfine -N --style none --runs "$RUNS" --export-json "$work/pull.json" \
  --prepare "rm -rf $work/store" "$isolate --storage $work/store pull -q --tls-verify=false $ref" \
  --prepare "rm -rf $work/oci $work/unpacked" "bash -c 'skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/oci:1 && umoci unpack --image $work/oci:1 $work/unpacked >/dev/null'" \
  --prepare "bash -c '$podman rmi -af >/dev/null 2>&1 || true'" "$podman pull -q --tls-verify=false $ref" >/dev/null
jq -r '.results[] | "\(.median * 1000 | floor) ms  \(.command)"' "$work/pull.json"
jq -r '.results | "isolate pull vs skopeo+umoci: \(.[0].median / .[1].median * 100 | floor / 100)x; vs podman pull: \(.[0].median / .[2].median * 100 | floor / 100)x"' "$work/pull.json"

# starts: the image in Isolate's store and podman's (both pulled above), and the same tree as a --rootfs
"$isolate" --storage "$work/store" pull -q --tls-verify=false "$ref" >/dev/null
limits="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"  # ../shared/PEERS.md
hyperfine -N --style none --warmup 3 --runs "$STARTS" --export-json "$work/start.json" \
  "$isolate --storage $work/store run $ref true" \
  "$isolate run --rootfs $root -- true" \
  "$podman run --rm $limits $ref true" >/dev/null
jq -r '.results[] | "\(.median * 1000 | floor) ms  \(.command)"' "$work/start.json"
jq -r '.results | "run IMAGE vs run --rootfs: \(.[0].median / .[1].median * 100 | floor / 100)x; vs podman run IMAGE: \(.[0].median / .[2].median * 100 | floor / 100)x"' "$work/start.json"
