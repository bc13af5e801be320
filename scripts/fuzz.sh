#!/usr/bin/env bash
# Runs every native Go fuzz test in the repository for $FUZZTIME each
# (default 5s). go test -fuzz takes one target in one package at a time; it
# runs in the package's folder, so packages of nested modules (sdk/) work too.
#
# Go 1.26's fuzzing coordinator can report a bare "context deadline
# exceeded" when -fuzztime ends while a worker is busy (golang/go#75804,
# fixed in Go 1.27): no input is written, nothing failed. Such a run is
# repeated once and, if it happens again, counted as that toolchain fault;
# any run that writes a failing input fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0 flaked=0
run() { go -C "$1" test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" . >"$log" 2>&1; }
deadline_only() { ! grep -q 'Failing input written' "$log" && grep -q '^    context deadline exceeded$' "$log"; }
while IFS=: read -r file name; do
	pkg=$(dirname "$file")
	echo "fuzz $pkg $name ($fuzztime)"
	if ! run "$pkg" "$name"; then
		deadline_only || { cat "$log"; exit 1; }
		echo "  stopped by the coordinator's deadline fault (golang/go#75804), no input written: again"
		if ! run "$pkg" "$name"; then
			deadline_only || { cat "$log"; exit 1; }
			echo "  the same fault again: counted, not a finding"
			flaked=$((flaked + 1))
		fi
	fi
	n=$((n + 1))
done < <(grep -rHoE --include='*_test.go' --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]+' . | sed 's/:func /:/' | sort)
echo "fuzz: $n targets passed ($flaked stopped twice by the toolchain's deadline fault)"
