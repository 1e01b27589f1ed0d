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
grep -q "^t= *[0-9.]*s mode=pool step=" "$dir/out.txt" || { echo "no live lines"; exit 1; }
grep -q "== Summary ==" "$dir/out.txt"
grep -q "HTML report: $dir/report.html" "$dir/out.txt"

# The same scenario through an xDS channel: gRPC's own xDS client balances,
# fed by kube-grpc's ADS server; no call fails (gRPC retries from the Service's
# kube-grpc.io/retry annotation) and every pod answered.
"$simulate" --scenario="$dir/short.yaml" --mode=xds --html="$dir/xds.html" \
  --summary_json="$dir/xds.json" --live=plain >"$dir/xds.txt" 2>&1 || {
  cat "$dir/xds.txt"
  exit 1
}
cat "$dir/xds.txt"
grep -q "^t= *[0-9.]*s mode=xds step=" "$dir/xds.txt" || { echo "no xds live lines"; exit 1; }
grep -q "^scenario short (xds): [0-9]* calls ok, 0 failed" "$dir/xds.txt" || { echo "xds calls failed"; exit 1; }
/usr/bin/python3 - "$dir/xds.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["mode"] == "xds", s["mode"]
assert s["failed"] == 0 and s["ok"] > 100, (s["ok"], s["failed"])
# web-0..2 from the start, web-3 after the scale step.
assert all(s["by_pod"].get(p, 0) > 0 for p in ["web-0", "web-1", "web-2", "web-3"]), s["by_pod"]
PY
"$simulate" --scenario="$dir/short.yaml" --mode=bogus >/dev/null 2>"$dir/err.txt" && exit 1
grep -q -- "--mode=bogus is pool or xds" "$dir/err.txt"

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
