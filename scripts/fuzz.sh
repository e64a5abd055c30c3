#!/usr/bin/env bash
# fuzz runs each fuzz target of the module for a while, one after the other, and sums up what
# each found. Like a benchmark it is for a person at a terminal, not for CI: CI runs the
# committed seed corpora (testdata/fuzz/<Target>/ and the f.Add seeds), which every plain
# `go test` runs as ordinary tests.
#
#   scripts/fuzz.sh                        every target, 60s each
#   scripts/fuzz.sh 5m                     every target, 5 minutes each
#   scripts/fuzz.sh 30s FuzzBindJSON       one target
#   FUZZ_KEEP=20 scripts/fuzz.sh 10m       also copy up to 20 of the new inputs into testdata/
#
# A failing input is written by go test to <package>/testdata/fuzz/<Target>/: fix the bug and
# commit the file, which is then a regression test. Inputs that only widened coverage stay in
# go's cache ($(go env GOCACHE)/fuzz/...); FUZZ_KEEP=n copies about n of them, of every size,
# next to the seeds, to commit. FUZZ_MINIMIZE (default 10s) bounds the time spent shrinking each new
# input. The controllers' target needs the test database (TEST_DATABASE_URL, as for go test).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-60s}
only=${2:-}
minimize=${FUZZ_MINIMIZE:-10s}
keep=${FUZZ_KEEP:-0}
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

# package target
targets=(
  "./middleware FuzzBindJSON"
  "./store FuzzDecodeCursor"
  "./controllers FuzzStoredFilesRead"
)

cache=$(go env GOCACHE)/fuzz/$(go list -m)
summary=()
failed=0
for entry in "${targets[@]}"; do
  read -r pkg target <<<"$entry"
  if [ -n "$only" ] && [ "$only" != "$target" ]; then continue; fi
  echo "== $target ($pkg) for $fuzztime"
  log=$(mktemp)
  status=ok
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" 2>&1 | tee "$log"; then
    status=FAILED
    failed=1
  fi
  last=$(grep -E '^fuzz: elapsed' "$log" | tail -1 || true)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
  found=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
  crasher=$(grep -oE "testdata/fuzz/${target}/[0-9a-f]+" "$log" | head -1 || true)
  rm -f "$log"

  corpus="$cache/${pkg#./}/$target"
  dest="${pkg#./}/testdata/fuzz/$target"
  if [ "$keep" -gt 0 ] && [ -d "$corpus" ]; then
    mkdir -p "$dest"
    # Inputs spread over the sizes: the small ones read easily, the large ones go deeper.
    mapfile -t by_size < <(ls -S -r "$corpus")
    step=$(( (${#by_size[@]} + keep - 1) / keep ))
    for ((i = 0; i < ${#by_size[@]}; i += step > 0 ? step : 1)); do
      cp -n "$corpus/${by_size[$i]}" "$dest/${by_size[$i]}"
    done
  fi
  summary+=("$(printf '%-22s %-7s %12s execs  %4s new inputs  %s' "$target" "$status" "${execs:-?}" "${found:-?}" "${crasher:+failing input: $pkg/$crasher}")")
done

echo
echo "== summary ($fuzztime per target)"
printf '%s\n' "${summary[@]}"
exit $failed
