#!/bin/sh
# Device rules on a cgroup v2 host (an eBPF program on the container's group), end to end.
#   tests/v2-device-check.sh ISOLATE_BINARY STATIC_BUSYBOX
# Run as root. Builds its own root filesystem from the busybox, runs containers through the
# docker face (--device) and the OCI face (linux.resources.devices), prints one PASS or FAIL
# line per check, and exits 1 if any failed. Everything it makes is under one temp directory,
# removed at the end. On a v1 or hybrid host the same checks pass through devices.allow/deny.
set -u

isolate=${1:?usage: $0 ISOLATE_BINARY STATIC_BUSYBOX}
busybox=${2:?usage: $0 ISOLATE_BINARY STATIC_BUSYBOX}
isolate=$(readlink -f "$isolate")
busybox=$(readlink -f "$busybox")
[ "$(id -u)" = 0 ] || { echo "FAIL setup: run as root"; exit 1; }
[ -x "$isolate" ] || { echo "FAIL setup: $isolate is not executable"; exit 1; }
[ -x "$busybox" ] || { echo "FAIL setup: $busybox is not executable"; exit 1; }

work=$(mktemp -d /tmp/isolate-v2-devices.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; shift; for line in "$@"; do echo "     $line"; done; failed=1; }

# what the checks run on
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  echo "INFO cgroup v2 at /sys/fs/cgroup ($(cat /sys/fs/cgroup/cgroup.controllers)); kernel $(uname -r)"
else
  echo "INFO /sys/fs/cgroup is not a cgroup2 root (v1 or hybrid): the rules go through devices.allow/deny here"
fi

# the root filesystem: busybox and its applets
root=$work/rootfs
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/etc"
cp "$busybox" "$root/bin/busybox"
for applet in sh cat head wc echo true ls; do ln -s busybox "$root/bin/$applet"; done
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# check NAME EXPECTED_STATUS MUST_CONTAIN MUST_NOT_CONTAIN -- ISOLATE ARGUMENTS: one check
# (the patterns are grep's; "any" status: not checked; an empty pattern: not checked)
check() {
  name=$1 want_status=$2 must=$3 must_not=$4
  shift 5
  output=$("$isolate" "$@" 2>&1)
  status=$?
  if [ "$want_status" != any ] && [ "$status" != "$want_status" ]; then
    fail "$name" "exit $status, expected $want_status" "$output"
  elif [ -n "$must" ] && ! printf '%s\n' "$output" | grep -q -- "$must"; then
    fail "$name" "no '$must' in the output:" "$output"
  elif [ -n "$must_not" ] && printf '%s\n' "$output" | grep -q -- "$must_not"; then
    fail "$name" "'$must_not' in the output:" "$output"
  else
    pass "$name"
  fi
}

state=$work/state

# docker face -------------------------------------------------------------------------------
# /dev/zero and /dev/null are among the nodes every container gets, so the flags give the
# host's /dev/zero (c 1:5) a second name: its rules are about the device, whatever its name.
check "run --device /dev/zero:/dev/zero2: the node is usable" 0 "^ *3$" "" -- \
  --root "$state" run --rootfs "$root" --no-overlay --device /dev/zero:/dev/zero2 -- sh -c 'head -c 3 /dev/zero2 | wc -c'

check "run --device /dev/zero:/dev/zero2:r: reading works" 0 "^ *3$" "" -- \
  --root "$state" run --rootfs "$root" --no-overlay --device /dev/zero:/dev/zero2:r -- sh -c 'head -c 3 /dev/zero2 | wc -c'

check "run --device /dev/zero:/dev/zero2:r: writing is denied (EPERM), under either name" 0 "zero2.*Operation not permitted" "zero-written" -- \
  --root "$state" run --rootfs "$root" --no-overlay --device /dev/zero:/dev/zero2:r -- \
  sh -c 'echo x > /dev/zero2 && echo zero-written; echo x > /dev/zero && echo zero-written; true'

check "run --device /dev/zero:/dev/zero2:r: other devices stay as they were" 0 "null-ok" "" -- \
  --root "$state" run --rootfs "$root" --no-overlay --device /dev/zero:/dev/zero2:r -- sh -c 'echo x > /dev/null && echo null-ok'

# OCI face ----------------------------------------------------------------------------------
# bundle DIR RULES: a config.json with RULES (JSON objects) before Isolate's defaults, and the
# host's /dev/kmsg (c 1:11, not among the nodes every container gets) bound in. The container
# opens /dev/kmsg for writing only (no CAP_SYSLOG needed for that) and writes one line to the
# kernel log.
bundle() {
  mkdir -p "$1"
  cat > "$1/config.json" <<EOF
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh", "-c", "echo isolate-v2-device-check > /dev/kmsg && echo kmsg-written; echo x > /dev/null && echo null-ok; head -c 3 /dev/zero | wc -c; true" ],
    "env": [ "PATH=/bin" ],
    "cwd": "/"
  },
  "root": { "path": "$root", "readonly": true },
  "hostname": "v2devices",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "mode=755", "size=65536k" ] },
    { "destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": [ "bind" ] }
  ],
  "linux": {
    "resources": { "devices": [ $2 ] },
    "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" } ]
  }
}
EOF
}

deny_all='{ "allow": false, "access": "rwm" }'
bundle "$work/denied" "$deny_all"
check "OCI deny-all: /dev/kmsg (c 1:11) is denied (EPERM)" 0 "kmsg.*Operation not permitted" "kmsg-written" -- \
  --root "$state" run -b "$work/denied" v2dev-denied
check "OCI deny-all: Isolate's default rules still allow /dev/null and /dev/zero" 0 "^ *3$" "null.*Operation not permitted" -- \
  --root "$state" run -b "$work/denied" v2dev-denied2

bundle "$work/allowed" "$deny_all, { \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 11, \"access\": \"w\" }"
check "OCI deny-all then allow c 1:11 w: /dev/kmsg opens for writing" 0 "kmsg-written" "Operation not permitted" -- \
  --root "$state" run -b "$work/allowed" v2dev-allowed

# nothing left behind
left=$(find /sys/fs/cgroup -maxdepth 4 -type d -name 'v2dev-*' 2>/dev/null)
if [ -z "$left" ]; then pass "no cgroup left behind"; else fail "no cgroup left behind" "$left"; fi

[ "$failed" = 0 ] && echo "ALL PASS" || echo "SOME FAILED"
exit "$failed"
