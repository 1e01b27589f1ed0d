#!/usr/bin/env bash
# Runs a benchmark binary for a moment and fails if it errors or measures nothing.
set -euo pipefail
bench="$1"
out="$TEST_TMPDIR/bench.json"
"$bench" --benchmark_min_time=0.01 --benchmark_format=json >"$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
assert runs, "no benchmark ran"
for r in runs:
    assert not r.get("error_occurred"), f"{r['name']}: {r.get('error_message')}"
    assert r["iterations"] > 0 and r["real_time"] > 0, f"{r['name']} measured nothing"
    print(f"{r['name']}: {r['iterations']} iterations, {r['real_time']:.0f} {r['time_unit']}/call")
PY
