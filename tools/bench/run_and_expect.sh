#!/usr/bin/env bash
# Runs a measurement tool briefly: usage: run_and_expect.sh BINARY EXPECTED_TEXT [ARGS...]
# Fails if the tool fails or its output lacks EXPECTED_TEXT.
set -euo pipefail
bin="$1"
expect="$2"
shift 2
out=$("$bin" "$@")
echo "$out"
grep -qF -- "$expect" <<<"$out"
