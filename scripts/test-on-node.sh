#!/usr/bin/env bash
# Runs the test suite on other Node major releases: each is installed from the npm registry (the
# node-linux-<arch> packages hold the official binaries) into a temporary prefix and put first on PATH, so
# vitest, its worker processes and every child process a test spawns run on it.
#
#   scripts/test-on-node.sh 22 24            # the whole suite but the Java interop suite, on Node 22, then 24
#   scripts/test-on-node.sh 22 -- test/unit  # arguments after -- go to vitest
#
# The Java interop suite (test/interop) runs on the machine's Node only: it tests the wire, not the runtime,
# and is the slowest part of the suite. KARYON_SKIP_INTEROP=1 leaves it out (see vitest.config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

majors=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do majors+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#majors[@]} -gt 0 ] || { echo "usage: $0 MAJOR... [-- VITEST-ARGS...]" >&2; exit 2; }

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m)" >&2; exit 2 ;;
esac

# Native addons in node_modules (unix-dgram, which hot-shots uses for statsd over a Unix socket) are built
# for the machine's Node; each other Node gets them rebuilt against its own headers (the node-linux package
# ships them), and the original builds are put back at the end.
addons=()
for dir in node_modules/*/ node_modules/@*/*/; do
  [ -f "$dir/binding.gyp" ] && [ -d "$dir/build" ] && addons+=("${dir%/}")
done
prefix="$(mktemp -d)"
restore() {
  for addon in "${addons[@]}"; do
    if [ -d "$prefix/original/$addon/build" ]; then
      rm -rf "$addon/build" && mv "$prefix/original/$addon/build" "$addon/build"
    fi
  done
  rm -rf "$prefix"
}
trap restore EXIT
for addon in "${addons[@]}"; do
  mkdir -p "$prefix/original/$addon" && cp -a "$addon/build" "$prefix/original/$addon/build"
done

for major in "${majors[@]}"; do
  npm install --prefix "$prefix/$major" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-$arch@$major" >/dev/null
  bin="$prefix/$major/node_modules/node-linux-$arch/bin"
  version="$("$bin/node" --version)"
  case "$version" in
    "v$major".*) ;;
    *) echo "node-linux-$arch@$major installed Node $version" >&2; exit 1 ;;
  esac
  for addon in "${addons[@]}"; do
    PATH="$bin:$PATH" npm rebuild "${addon#node_modules/}" --nodedir="$prefix/$major/node_modules/node-linux-$arch" --loglevel=error >/dev/null
  done
  printf '\n-- the test suite on Node %s\n' "$version"
  PATH="$bin:$PATH" KARYON_SKIP_INTEROP=1 npx --no-install vitest run "$@"
done
