#!/usr/bin/env bash
# scripts/fuzz.sh — run every fuzz target in the module for real.
#
#   scripts/fuzz.sh [FUZZTIME]        (make fuzz FUZZTIME=5m)
#
# FUZZTIME is per target, in go test's -fuzztime syntax (90s, 5m, 10000x);
# default 60s. Targets are found by grepping the test files for
# `func FuzzXxx(`, so a new target is fuzzed without touching this script.
# go test fuzzes one target per run, so each gets its own run.
#
# The corpus is kept in the repository: go test writes the inputs it finds
# interesting to the build cache, and after each run they are copied into
# <package>/testdata/fuzz/<FuzzXxx>/, where plain `go test` replays them as
# seeds from then on. A failing input is written there by go test itself;
# commit it with the fix. Exits non-zero if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-60s}
cache=$(go env GOCACHE)/fuzz

# "dir name" pairs, one per target, in a stable order.
mapfile -t targets < <(
	grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(' . |
		grep -v '/testdata/' |
		sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#; s#^\./[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#. \1#' |
		sort -u
)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
failed=()
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	pkg=$(go list "./$dir")
	echo "=== $name ($pkg)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir"; then
		failed+=("$pkg.$name")
	fi
	# Keep what this run (and earlier ones) found interesting.
	src="$cache/$pkg/$name"
	dst="$dir/testdata/fuzz/$name"
	if [ -d "$src" ]; then
		mkdir -p "$dst"
		before=$(find "$dst" -type f | wc -l)
		# Entries are named by the hash of their content: overwriting is harmless.
		find "$src" -type f -exec cp -t "$dst" {} +
		after=$(find "$dst" -type f | wc -l)
		echo "    corpus $dst: $after inputs ($((after - before)) new)"
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (failing inputs are in the packages' testdata/fuzz)" >&2
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
