#!/usr/bin/env bash
# Runs every native Go fuzz test in the repository for $FUZZTIME each
# (default 5s). go test -fuzz takes one target in one package at a time; it
# runs in the package's folder, so packages of nested modules (sdk/) work too.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
n=0
while IFS=: read -r file name; do
	pkg=$(dirname "$file")
	echo "fuzz $pkg $name ($fuzztime)"
	go -C "$pkg" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" . >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
	n=$((n + 1))
done < <(grep -rHoE --include='*_test.go' --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]+' . | sed 's/:func /:/' | sort)
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets passed"
