#!/usr/bin/env bash
# Builds Isolate into one statically linked file, out/isolate.
#   ./build.sh          build out/isolate
#   ./build.sh test     build out/isolate, then run every test against it (as root:
#                       the integration tests start real containers). Results also go
#                       to build/test-results/results.trx.
# Needs: the .NET SDK, cmake, gcc and libssl-dev (the NuGet mirror serves the AOT compiler);
# for the tests, a static busybox (Debian: busybox-static), installed here if missing.
set -euo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: '$1' is missing: $2" >&2; exit 1; }; }
need dotnet "install the .NET SDK 10"
need cmake "apt-get install cmake"
need gcc "apt-get install gcc"
# pull's HTTPS: OpenSSL is linked into the static binary from its archives
if ! compgen -G "/usr/lib*/libssl.a" >/dev/null && ! compgen -G "/usr/lib/*/libssl.a" >/dev/null; then
  echo "build.sh: OpenSSL's static archives (libssl.a, libcrypto.a) are missing: apt-get install libssl-dev" >&2
  exit 1
fi

publish_dir=build/publish
rm -rf "$publish_dir"
dotnet publish src/Isolate.Cli/Isolate.Cli.csproj -c Release -r linux-x64 -p:PublishAot=true \
  -o "$publish_dir" -nologo -clp:ErrorsOnly -warnaserror
mkdir -p out
cp "$publish_dir/isolate" out/isolate.new
mv -f out/isolate.new out/isolate   # atomic: a running out/isolate is never half-written

# The promise: one static file (no PT_INTERP: nothing for a dynamic loader to do).
if LC_ALL=C readelf -l out/isolate 2>/dev/null | grep -q 'INTERP'; then
  echo "build.sh: out/isolate is not statically linked" >&2
  exit 1
fi
echo "built out/isolate ($(du -k out/isolate | cut -f1) KiB, statically linked)"

[ "${1:-}" = "test" ] || exit 0
shift

# The shared test rootfs is made from a static busybox.
if ! { [ -x /bin/busybox ] || [ -x /usr/bin/busybox ]; } || ldd "$(command -v busybox || echo /bin/busybox)" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build.sh: installing busybox-static for the test root filesystem"
    apt-get install -y -qq busybox-static >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; }
  else
    echo "build.sh: the tests need a static busybox: apt-get install busybox-static" >&2
    exit 1
  fi
fi

rm -rf build/test-results
ISOLATE_BIN="$PWD/out/isolate" dotnet test tests/Isolate.Tests/Isolate.Tests.csproj -c Release -nologo \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory build/test-results "$@"
