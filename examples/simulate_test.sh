#!/usr/bin/env bash
# The demo end to end on a short scenario: the live view (plain mode, as when
# stdout is not a terminal), the summary, and the HTML report, whose structure
# and numbers are checked against the run's JSON summary and which must render
# in headless Chromium.
set -euo pipefail
simulate="$1"
dir="$TEST_TMPDIR"
cat >"$dir/short.yaml" <<'YAML'
name: short
duration: 4s
deployment: {name: web, namespace: demo, replicas: 3, readiness_delay: 100ms}
load: {threads: 2, rate: 200, retry: true}
balancer: {resync: 5m, watch: true, health: grpc, health_interval: 500ms}
steps:
  - {at: 1s, do: scale web 4}
  - {at: 2s, do: crash web-1 500ms}
YAML
"$simulate" --scenario="$dir/short.yaml" --html="$dir/report.html" \
  --summary_json="$dir/summary.json" --live=plain >"$dir/out.txt" 2>&1 || {
  cat "$dir/out.txt"
  exit 1
}
cat "$dir/out.txt"
grep -q "^t= *[0-9.]*s step=" "$dir/out.txt" || { echo "no live lines"; exit 1; }
grep -q "== Summary ==" "$dir/out.txt"
grep -q "HTML report: $dir/report.html" "$dir/out.txt"

# The default scenario parses (the demo's own file), with flags applied.
"$simulate" --duration=bogus >/dev/null 2>"$dir/err.txt" && exit 1
grep -q "not a duration" "$dir/err.txt"
# Bad values are refused with a message, not silently ignored.
"$simulate" --scenario="$dir/short.yaml" --duration=1s >/dev/null 2>"$dir/err.txt" && exit 1
grep -q "ends before the scenario's last step" "$dir/err.txt"
for bad in --rate=0 --rate=-5 --rate=fast --threads=0 --threads=two; do
  "$simulate" --scenario="$dir/short.yaml" "$bad" >/dev/null 2>"$dir/err.txt" && { echo "accepted $bad"; exit 1; }
  grep -q -- "${bad%%=*}=" "$dir/err.txt" || { echo "no message for $bad"; cat "$dir/err.txt"; exit 1; }
done
"$simulate" --help >"$dir/help.txt" 2>&1 || { echo "--help failed"; exit 1; }
grep -q -- "--scenario" "$dir/help.txt"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "chromium is not installed (tools/setup.sh installs it)"; exit 1; }
/usr/bin/python3 "$TEST_SRCDIR/$TEST_WORKSPACE/examples/check_html_report.py" \
  "$dir/report.html" "$dir/summary.json" "$chromium"
