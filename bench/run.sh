#!/usr/bin/env bash
# bench/run.sh - start-to-exit latency of /bin/true in one busybox root filesystem,
# Isolate side by side with crun, runc, bubblewrap and unshare+chroot, in one run.
#
#   sudo bench/run.sh              150 timed runs of each (RUNS=N to change)
#   sudo BASELINE=/path/to/an/older/isolate bench/run.sh
#                                  adds that build's rows to the same run, and the ratio of
#                                  this build to it (a change's start-time cost, measured
#                                  side by side rather than across runs)
#
# Prints the median (and mean, min) per runtime, the ratio of each median to crun's,
# and the wall time of 200 sequential starts; then `isolate --version` beside the floor of
# this design (bench/floor: the smallest Native AOT program, published with Isolate's own
# settings), the peak RSS of one start per runtime, and where an Isolate start spends its
# time (ISOLATE_TIMING=1: the median of each phase). Needs root and: hyperfine, jq, crun,
# runc, bubblewrap, busybox-static (apt-get install ...); out/isolate from ./build.sh.
# The machine is shared and noisy: compare rows of one run, never across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-150}
SEQUENTIAL=${SEQUENTIAL:-200}
. bench/lib.sh
bench_need hyperfine jq crun runc bwrap busybox unshare dotnet /usr/bin/time \
  -- "apt-get install hyperfine jq crun runc bubblewrap busybox-static util-linux time; dotnet: the SDK build.sh uses"
bench_need_isolate_as_root
bench_unwrap_hybrid "$0" "$@"

work=$(mktemp -d /var/tmp/bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bundle="$work/bundle"
root="$bundle/rootfs"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,root}
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

# One OCI bundle for crun and runc: runc's default spec, running /bin/true.
(cd "$bundle" && runc spec)
jq --arg root "$root" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $root' \
  "$bundle/config.json" > "$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"
mkdir -p "$work/runc-state" "$work/crun-state"
# runc's default spec has no seccomp filter; a second bundle adds docker's default
# profile's shape in small (allow by default, refuse a few calls) so crun pays for
# installing a filter as Isolate always does.
seccomp_bundle="$work/bundle-seccomp"
mkdir -p "$seccomp_bundle"
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [{names: ["keyctl", "add_key", "request_key", "kexec_load", "init_module", "bpf", "perf_event_open", "open_by_handle_at", "unshare", "mount", "reboot"], action: "SCMP_ACT_ERRNO"}]}' \
  "$bundle/config.json" > "$seccomp_bundle/config.json"

# The floor: built here with the same publish settings as out/isolate.
floor_dir=build/bench-floor
if [ ! -x "$floor_dir/floor" ] || [ bench/floor/Program.cs -nt "$floor_dir/floor" ] || [ bench/floor/Floor.csproj -nt "$floor_dir/floor" ]; then
  dotnet publish bench/floor/Floor.csproj -c Release -r linux-x64 -p:PublishAot=true -o "$floor_dir" -nologo -clp:ErrorsOnly >&2 \
    || { echo "bench: building the AOT floor (bench/floor) failed" >&2; exit 1; }
fi
floor="$PWD/$floor_dir/floor"

isolate="$PWD/out/isolate"
declare -a names commands
add() { names+=("$1"); commands+=("$2"); }
median() { jq ".results[$1].median" "$work/times.json"; }
add "busybox true (no isolation)" "$root/bin/busybox true"
add "unshare + chroot" "unshare -fp --mount-proc -m -u -i -n chroot $root /bin/true"
add "bwrap" "bwrap --unshare-all --die-with-parent --bind $root / --proc /proc --dev /dev /bin/true"
add "isolate run" "$isolate run --rootfs $root -- /bin/true"
add "isolate run, no cgroup" "$isolate run --rootfs $root --cgroups disabled -- /bin/true"
add "isolate run --no-overlay" "$isolate run --rootfs $root --no-overlay -- /bin/true"
add "crun run" "crun --root $work/crun-state run --bundle $bundle bench-crun"
add "crun run, no cgroup" "crun --root $work/crun-state --cgroup-manager=disabled run --bundle $bundle bench-crun"
add "runc run" "runc --root $work/runc-state run --bundle $bundle bench-runc"
add "isolate, as crun's bundle" "$isolate run --rootfs $root --no-overlay --security-opt seccomp=unconfined -- /bin/true"
add "crun run + seccomp filter" "crun --root $work/crun-state run --bundle $seccomp_bundle bench-crun"
add "isolate run --init" "$isolate run --rootfs $root --init -- /bin/true"
mkdir -p "$work/isolate-state" "$work/baseline-state"
add "isolate, OCI form (bundle)" "$isolate --root $work/isolate-state run --bundle $bundle bench-isolate"
isolate_oci_i=12
# bubblewrap's terms: no cgroup, no copy-on-write layer, no seccomp filter
add "isolate, as bwrap" "$isolate run --rootfs $root --cgroups disabled --no-overlay --security-opt seccomp=unconfined -- /bin/true"
isolate_as_bwrap_i=13 bwrap_i=2
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "bench: BASELINE=$BASELINE is not an executable" >&2; exit 1; }
  add "baseline: isolate run" "$BASELINE run --rootfs $root -- /bin/true"
  add "baseline: OCI form (bundle)" "$BASELINE --root $work/baseline-state run --bundle $bundle bench-isolate"
fi

hyperfine -N --style none --warmup 10 --runs "$RUNS" --export-json "$work/times.json" "${commands[@]}" >/dev/null 2>"$work/hyperfine.log"
for i in "${!commands[@]}"; do
  start=$(date +%s.%N)
  for _ in $(seq "$SEQUENTIAL"); do ${commands[$i]} >/dev/null; done
  end=$(date +%s.%N)
  echo "$i $(echo "$end - $start" | bc)" >> "$work/sequential.txt"
done

echo "Start-to-exit latency of /bin/true in a busybox root; $RUNS runs each after 10 warm-ups; $(nproc) CPUs; $(uname -r)"
echo
printf '| %-28s | %9s | %9s | %9s | %10s | %18s |\n' runtime "median ms" "mean ms" "min ms" "vs crun" "${SEQUENTIAL} sequential, s"
printf '|%s|%s:|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..19})"
isolate_i=3 isolate_nocg_i=4 isolate_direct_i=5 crun_i=6 crun_nocg_i=7 isolate_bare_i=9 crun_seccomp_i=10
crun_median=$(median $crun_i)
for i in "${!names[@]}"; do
  median=$(median "$i")
  mean=$(jq ".results[$i].mean" "$work/times.json")
  min=$(jq ".results[$i].min" "$work/times.json")
  seq_s=$(awk -v i="$i" '$1 == i { print $2 }' "$work/sequential.txt")
  printf '| %-28s | %9.1f | %9.1f | %9.1f | %9.2fx | %18.2f |\n' "${names[$i]}" \
    "$(echo "$median * 1000" | bc -l)" "$(echo "$mean * 1000" | bc -l)" "$(echo "$min * 1000" | bc -l)" \
    "$(echo "$median / $crun_median" | bc -l)" "$seq_s"
done
echo
ms() { echo "($1) * 1000" | bc -l; }
printf 'isolate/crun median ratio: %.2f; writing into the rootfs as crun does (--no-overlay): %.2f; without cgroups on either side: %.2f\n' \
  "$(echo "$(median $isolate_i) / $crun_median" | bc -l)" "$(echo "$(median $isolate_direct_i) / $crun_median" | bc -l)" \
  "$(echo "$(median $isolate_nocg_i) / $(median $crun_nocg_i)" | bc -l)"
printf 'like for like - both writing into the rootfs, neither with a seccomp filter: %.2f; both with a filter (isolate --no-overlay, crun + seccomp): %.2f\n' \
  "$(echo "$(median $isolate_bare_i) / $crun_median" | bc -l)" "$(echo "$(median $isolate_direct_i) / $(median $crun_seccomp_i)" | bc -l)"
printf 'OCI form / crun (both on crun'"'"'s bundle): %.2f; %s sequential, isolate / crun: run %.2f, OCI form %.2f; isolate as bwrap / bwrap: %.2f\n' \
  "$(echo "$(median $isolate_oci_i) / $crun_median" | bc -l)" "$SEQUENTIAL" \
  "$(awk -v i=$isolate_i -v c=$crun_i '$1 == i { a = $2 } $1 == c { b = $2 } END { print a / b }' "$work/sequential.txt")" \
  "$(awk -v i=$isolate_oci_i -v c=$crun_i '$1 == i { a = $2 } $1 == c { b = $2 } END { print a / b }' "$work/sequential.txt")" \
  "$(echo "$(median $isolate_as_bwrap_i) / $(median $bwrap_i)" | bc -l)"
printf 'cgroup setup + teardown (median with minus median without): isolate %.1f ms, crun %.1f ms\n' \
  "$(ms "$(median $isolate_i) - $(median $isolate_nocg_i)")" "$(ms "$crun_median - $(median $crun_nocg_i)")"
if [ -n "${BASELINE:-}" ]; then
  printf 'this build / BASELINE (%s), medians: isolate run %.2f, OCI form %.2f; %s sequential: %.2f, %.2f\n' "$BASELINE" \
    "$(echo "$(median $isolate_i) / $(median 14)" | bc -l)" "$(echo "$(median $isolate_oci_i) / $(median 15)" | bc -l)" "$SEQUENTIAL" \
    "$(awk '$1 == 3 { a = $2 } $1 == 14 { b = $2 } END { print a / b }' "$work/sequential.txt")" \
    "$(awk '$1 == 12 { a = $2 } $1 == 15 { b = $2 } END { print a / b }' "$work/sequential.txt")"
fi

# The fixed cost of this design, before any container work.
hyperfine -N --style none --warmup 10 --runs "$RUNS" --export-json "$work/floor.json" "$floor" "$isolate --version" >/dev/null 2>>"$work/hyperfine.log"
floor_ms=$(jq '.results[0].median * 1000' "$work/floor.json"); version_ms=$(jq '.results[1].median * 1000' "$work/floor.json")
echo
printf '| %-28s | %9s | %13s | %9s | %9s |\n' "no container" "median ms" "vs AOT floor" "size MiB" "RSS KiB"
printf '|%s|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})"
peak_rss() { # the median of 15 peak RSS readings (KiB) of one command
  for _ in $(seq 15); do /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 8p
}
printf '| %-28s | %9.1f | %12.2fx | %9.1f | %9s |\n' "AOT floor (bench/floor)" "$floor_ms" 1 "$(echo "$(stat -c %s "$floor") / 1048576" | bc -l)" "$(peak_rss "$floor")"
printf '| %-28s | %9.1f | %12.2fx | %9.1f | %9s |\n' "isolate --version" "$version_ms" "$(echo "$version_ms / $floor_ms" | bc -l)" \
  "$(echo "$(stat -c %s "$isolate") / 1048576" | bc -l)" "$(peak_rss "$isolate" --version)"
echo
printf 'peak RSS of one start, KiB (median of 15): isolate run %s, crun run %s, runc run %s, bwrap %s\n' \
  "$(peak_rss "$isolate" run --rootfs "$root" -- /bin/true)" \
  "$(peak_rss crun --root "$work/crun-state" run --bundle "$bundle" bench-crun)" \
  "$(peak_rss runc --root "$work/runc-state" run --bundle "$bundle" bench-runc)" \
  "$(peak_rss bwrap --unshare-all --die-with-parent --bind "$root" / --proc /proc --dev /dev /bin/true)"

# Where an Isolate start spends its time: the median of each phase over $RUNS starts.
for _ in $(seq "$RUNS"); do
  ISOLATE_TIMING=1 "$isolate" run --rootfs "$root" -- /bin/true 2>&1 >/dev/null | grep '^isolate: timing:'
done > "$work/phases.txt"
echo
echo "isolate run phases, median ms of $RUNS starts (ISOLATE_TIMING=1; from the binary's first C code to the end of Main):"
awk '{ for (i = 3; i + 1 <= NF; i += 2) { if ($i == "total") { print "total", $(i + 1); break } print $i, $(i + 1) } }' "$work/phases.txt" \
  | awk '{ order[$1] = order[$1] ? order[$1] : ++n; v[$1, ++c[$1]] = $2 }
         END { for (p in order) name[order[p]] = p
               for (k = 1; k <= n; k++) { p = name[k]; m = c[p]
                 # the median: sort this phase'"'"'s values (insertion sort; a few hundred at most)
                 for (i = 1; i <= m; i++) a[i] = v[p, i]
                 for (i = 2; i <= m; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
                 printf "  %s %.2f", p, (m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2) }
               print "" }'

# --cpus 0.5 on a busy loop of 5 s of wall time: the cgroup's CPU time over the wall time.
start=$(date +%s.%N)
stats=$("$isolate" run --rootfs "$root" --cpus 0.5 --stats=json -- sh -c \
  "s=\$(cut -d' ' -f1 /proc/uptime); while :; do n=\$(cut -d' ' -f1 /proc/uptime); [ \$(echo \"\$n \$s\" | awk '{ print (\$1 - \$2 >= 5) }') = 1 ] && break; done" 2>&1 >/dev/null | tail -1)
end=$(date +%s.%N)
cpu=$(echo "$stats" | jq '(.cpu_user_usec + .cpu_system_usec) / 1000000')
printf -- '--cpus 0.5 on a 5 s busy loop: %.2f CPUs used (cgroup CPU time %.2f s over %.2f s of wall time)\n' \
  "$(echo "$cpu / ($end - $start)" | bc -l)" "$cpu" "$(echo "$end - $start" | bc -l)"
