#!/usr/bin/env bash
# The benchmark report in quick mode: every section runs and the Markdown has
# every table and a verdict per target. Figures are not asserted.
set -euo pipefail
report="$1"
out="$TEST_TMPDIR/BENCHMARKS.md"
"$report" --quick --pick_bench="$2" --kube_bench="$3" --out="$out" \
  --json_out="$TEST_TMPDIR/raw.json"
cat "$out"
for heading in "## Machine" "## Targets" "## 1. Pick overhead" "## 2. Unary throughput" \
  "### Least-request with a slow pod" \
  "## 3. Convergence" "## 4. Churn under load" "## 5. Scale" "## 6. Balancer shutdown" \
  "## 7. Control plane fan-out"; do
  grep -qF -- "$heading" "$out" || { echo "missing: $heading"; exit 1; }
done
if grep -q "section failed\|^\*\*Failed" "$out"; then
  echo "a section failed"
  exit 1
fi
# Seventeen targets, each with a verdict.
n=$(grep -cE '^\| .* \| \*\*(met|not met)\*\* \|$' "$out")
[ "$n" -eq 17 ] || { echo "expected 17 target verdicts, found $n"; exit 1; }
/usr/bin/python3 - "$TEST_TMPDIR/raw.json" <<'PY'
import json, sys
raw = json.load(open(sys.argv[1]))
assert raw["pick"]["benchmarks"], "no pick benchmark ran"
scale = raw["scale"]
rows = {r["endpoints"]: r for r in scale["end_to_end"]}
assert rows[5000]["picked_after_first_pool"] == 5000, rows
for r in scale["algorithms"]:
    for side in ("incremental", "baseline"):
        assert r[side]["one_endpoint_change"]["n"] > 0, r
assert scale["rollout"]["incremental"]["events"] == scale["rollout"]["baseline"]["events"] > 0, scale["rollout"]
assert scale["controller"]["one_pod_change"]["n"] > 0, scale["controller"]
assert raw["api_requests"]["open_watch_streams"] == 1, raw["api_requests"]
for name in ("memory_pool", "memory_bare"):
    assert raw[name]["ready"] == raw[name]["channels"], raw[name]
assert len(raw["shutdown"]["variants"]) == 4, raw["shutdown"]
for m in raw["throughput"]["modes"]:
    assert m["calls"] > 0 and m["failed"] == 0, m
assert [m["name"] for m in raw["throughput"]["modes"]][3] == "pool_uncounted", raw["throughput"]
runs = raw["least_request"]["runs"]
assert sorted((r["policy"], r["slow_pod"]) for r in runs) == [
    ("least_request", False), ("least_request", True), ("round_robin", False), ("round_robin", True)], runs
for r in runs:
    assert r["calls"] > 0 and r["failed"] == 0 and 0 < r["slow_pod_share"] < 1, r
print("raw figures consistent")
PY
