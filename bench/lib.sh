# bench/lib.sh - what every benchmark here checks before it starts (sourced, not run).

# bench_need TOOL... [-- HINT]: each tool on PATH, or one line naming the missing one and how
# to install it.
bench_need() {
  local hint="" tools=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then hint=" ($2)"; break; fi
    tools+=("$1"); shift
  done
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing$hint" >&2; exit 1; }
  done
}

# bench_need_isolate_as_root: out/isolate built, and root (the runtimes create namespaces and
# cgroups).
bench_need_isolate_as_root() {
  [ -x out/isolate ] || { echo "bench: out/isolate is missing: run ./build.sh" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "bench: run as root (the runtimes create namespaces and cgroups)" >&2; exit 1; }
}

# bench_unwrap_hybrid "$0" "$@": on cgroup v1 hybrid hosts crun 1.8 refuses to start while
# cgroup2 is mounted at /sys/fs/cgroup/unified ("cgroups in hybrid mode not supported"). The
# whole benchmark, every runtime alike, then runs again in a private mount namespace with that
# mount detached: wrapped once, not per start (the wrapper itself costs milliseconds).
bench_unwrap_hybrid() {
  if [ -z "${BENCH_WRAPPED:-}" ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    export BENCH_WRAPPED=1
    local script="$PWD/bench/${1##*/}"; shift # the callers cd to the repository root first
    exec unshare -m --propagation private bash -c 'umount -l /sys/fs/cgroup/unified && exec "$0" "$@"' "$script" "$@"
  fi
}
