#!/usr/bin/env bash
# Builds Isolate into one statically linked file, out/isolate.
#   ./build.sh          build out/isolate
#   ./build.sh test     build out/isolate, then run every test against it
# Needs: the .NET SDK, cmake and gcc (the NuGet mirror serves the AOT compiler).
set -euo pipefail
cd "$(dirname "$0")"

publish_dir=build/publish
rm -rf "$publish_dir"
dotnet publish src/Isolate.Cli/Isolate.Cli.csproj -c Release -r linux-x64 -p:PublishAot=true \
  -o "$publish_dir" -nologo -clp:ErrorsOnly -warnaserror
mkdir -p out
cp "$publish_dir/isolate" out/isolate.new
mv -f out/isolate.new out/isolate   # atomic: a running out/isolate is never half-written

# The promise: one static file.
if ! file out/isolate | grep -q 'statically linked'; then
  echo "build.sh: out/isolate is not statically linked: $(file out/isolate)" >&2
  exit 1
fi
echo "built out/isolate ($(du -k out/isolate | cut -f1) KiB, $(file -b out/isolate | cut -d, -f1-2), statically linked)"

if [ "${1:-}" = "test" ]; then
  shift
  ISOLATE_BIN="$PWD/out/isolate" dotnet test tests/Isolate.Tests/Isolate.Tests.csproj -c Release -nologo "$@"
fi
