#!/usr/bin/env bash
# tools.sh builds a program pinned in tools/go.mod (today: versitygw, the S3 server of the tests
# and the cluster check) from the Go module proxy, once, and prints the path of the binary.
#
#   scripts/tools.sh versitygw          build if missing, print the path
#   "$(scripts/tools.sh versitygw)" --access k --secret s --port 127.0.0.1:7070 posix /some/dir
#
# The binary is cached outside the work tree, in $TIKTOK_TOOLS_DIR (default: tiktok-tools beside
# Go's build cache, e.g. ~/.cache/tiktok-tools), under a name that carries the pinned version and
# a hash of tools/go.mod and tools/go.sum: a new pin builds a new binary, every work tree and CI
# run on the machine shares the old one. Nothing is installed by hand and nothing outside the
# module proxy is fetched. The first build takes about three minutes on two cores; later calls
# print the path at once. Concurrent calls are safe: the binary appears by an atomic rename.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { echo "usage: scripts/tools.sh versitygw" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in
  versitygw) pkg=github.com/versity/versitygw/cmd/versitygw; module=github.com/versity/versitygw ;;
  *) usage ;;
esac
name=$1

version=$(awk -v m="$module" '$1 == m { print $2 }' "$root/tools/go.mod")
[ -n "$version" ] || { echo "tools.sh: $module is not pinned in tools/go.mod" >&2; exit 1; }
hash=$(cat "$root/tools/go.mod" "$root/tools/go.sum" | sha256sum | cut -c1-12)
dir=${TIKTOK_TOOLS_DIR:-$(dirname "$(go env GOCACHE)")/tiktok-tools}
bin="$dir/$name-$version-$hash"

if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "tools.sh: building $name $version from the Go module proxy into $dir (first time only)" >&2
  tmp=$(mktemp "$dir/.$name.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  # GOWORK=off: the tools module builds alone, whatever go.work a developer has around.
  (cd "$root/tools" && GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -o "$tmp" "$pkg") >&2
  chmod 755 "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
fi
echo "$bin"
