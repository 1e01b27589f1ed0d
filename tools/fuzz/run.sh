#!/usr/bin/env bash
# Runs the libFuzzer targets of //fuzz for a while each.
#   tools/fuzz/run.sh [--time=SECONDS] [--jobs=N] [--merge] [target...]
# --time   seconds per target (default 60)
# --jobs   targets fuzzed at once (default 2)
# --merge  afterwards, add the inputs that found new coverage to fuzz/corpus/<target>
# Builds with --config=fuzz first. Each target starts from its committed corpus;
# new inputs go to a scratch directory. Prints one line per target (executions,
# coverage, corpus) and exits non-zero if any target crashed, leaked, timed out or
# ran out of memory; the reproducer is left in the output directory (printed).
set -uo pipefail
cd "$(dirname "$0")/../.."

time_per=60
jobs=2
merge=0
targets=()
for a in "$@"; do
  case "$a" in
    --time=*) time_per=${a#--time=} ;;
    --jobs=*) jobs=${a#--jobs=} ;;
    --merge) merge=1 ;;
    -*) echo "unknown flag $a" >&2; exit 2 ;;
    *) targets+=("$a") ;;
  esac
done
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(watch_stream_fuzz k8s_json_fuzz kubeconfig_fuzz target_fuzz fakek8s_request_fuzz)
fi

labels=()
for t in "${targets[@]}"; do labels+=("//fuzz:$t"); done
if ! bazel build --config=fuzz "${labels[@]}"; then
  echo "fuzz: build failed"
  exit 1
fi
out=${FUZZ_OUT:-$(mktemp -d /tmp/kubegrpc-fuzz.XXXXXX)}
mkdir -p "$out/bin"
# Other configurations build the same targets into the same place (as replay
# tests), so run copies of the fuzzers.
for t in "${targets[@]}"; do
  cp -f "$(bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz/$t" "$out/bin/$t" || exit 1
done
bin=$out/bin
echo "fuzz: ${#targets[@]} targets, ${time_per}s each, $jobs at a time; output in $out"

run_one() {
  local t=$1
  local work="$out/$t.corpus"
  mkdir -p "$work" "$out/$t.artifacts"
  # stdin is /dev/null: nothing a fuzzed input names can block on the terminal.
  "$bin/$t" -max_total_time="$time_per" -timeout=10 -rss_limit_mb=2048 -max_len=32768 \
    -print_final_stats=1 -artifact_prefix="$out/$t.artifacts/" \
    "$work" "fuzz/corpus/$t" </dev/null >"$out/$t.log" 2>&1
  echo $? >"$out/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  rc=$(cat "$out/$t.rc")
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/$t.log" | grep -oE '[0-9]+$')
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$out/$t.log" | tail -1)
  cov=$(echo "$done_line" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
  ft=$(echo "$done_line" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+')
  corp=$(echo "$done_line" | grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' | sed 's/corp: //')
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc), see $out/$t.log and $out/$t.artifacts/"
    grep -E 'ERROR: |SUMMARY: ' "$out/$t.log" | head -5
  else
    echo "fuzz: $t ok: ${execs:-?} executions in ${time_per}s, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?}"
  fi
  if [ "$merge" -eq 1 ] && [ "$rc" -eq 0 ]; then
    "$bin/$t" -merge=1 -max_len=32768 -timeout=10 "fuzz/corpus/$t" "$out/$t.corpus" \
      </dev/null >"$out/$t.merge.log" 2>&1 || echo "fuzz: merging $t's corpus failed"
  fi
done
echo "fuzz: $((${#targets[@]} - failed)) targets clean, $failed failed"
[ "$failed" -eq 0 ]
