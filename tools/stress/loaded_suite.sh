#!/usr/bin/env bash
# The whole suite, several times in a row, with both cores kept busy by another
# process: every end-to-end test must pass on a loaded machine.
#   tools/stress/loaded_suite.sh [ROUNDS] [bazel test flags ...]   (default 5 rounds)
# The load is `stress-ng --cpu <cores>` when stress-ng is installed
# (apt-get install stress-ng), else one busy shell loop per core. Test results
# are never taken from the cache. Prints one line per round and a summary;
# exits non-zero if any round failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
shift || true
cores=$(nproc)
if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$cores" --quiet &
  load_pid=$!
  load="stress-ng --cpu $cores"
else
  pids=()
  for _ in $(seq "$cores"); do (while :; do :; done) & pids+=($!); done
  load="$cores busy shell loops"
  load_pid="${pids[*]}"
fi
trap 'kill $load_pid 2>/dev/null' EXIT
echo "loaded_suite: $rounds rounds of bazel test //... under $load"
failed_rounds=0
for round in $(seq "$rounds"); do
  log=$(mktemp)
  start=$(date +%s)
  bazel test --nocache_test_results "$@" //... >"$log" 2>&1
  rc=$?
  summary=$(grep -E "^Executed|tests? pass|fail" "$log" | tail -1)
  echo "loaded_suite: round $round: exit $rc in $(( $(date +%s) - start ))s: $summary"
  if [ "$rc" -ne 0 ]; then
    failed_rounds=$((failed_rounds + 1))
    grep -E "^//[^ ]+ +(FAILED|TIMEOUT|FLAKY)" "$log" | sed 's/^/loaded_suite:   /'
  fi
  rm -f "$log"
done
echo "loaded_suite: $((rounds - failed_rounds)) of $rounds rounds green"
[ "$failed_rounds" -eq 0 ]
