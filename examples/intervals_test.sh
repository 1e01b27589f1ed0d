#!/usr/bin/env bash
# The refresh-interval tool: deterministic (same seed, same table), its table and
# HTML agree, and it tells settings apart (polling every 60 s is visibly worse
# than watching on this scenario), and bad settings are clear errors.
set -euo pipefail
intervals="$1"
dir="$TEST_TMPDIR"
cat >"$dir/s.yaml" <<'YAML'
name: small
duration: 2m
deployment: {name: web, namespace: demo, replicas: 3, readiness_delay: 2s}
steps:
  - {at: 10s, do: scale web 5}
  - {at: 31500ms, do: hang web-1 10s}
  - {at: 50s, do: rollout web}
YAML
settings="name=watch;name=watch + health 1s,health=1s;name=poll 60s,watch=false,resync=60s"
settings="$settings;name=no ejection,ejection=off;name=lr,policy=least_request"
"$intervals" --scenario="$dir/s.yaml" --settings="$settings" --html="$dir/a.html" \
  --json="$dir/a.json" >"$dir/a.txt"
"$intervals" --scenario="$dir/s.yaml" --settings="$settings" --html="$dir/b.html" \
  --json="$dir/b.json" >"$dir/b.txt"
cat "$dir/a.txt"
cmp "$dir/a.json" "$dir/b.json"
/usr/bin/python3 - "$dir/a.json" "$dir/a.html" <<'PY'
import json, re, sys
data = json.load(open(sys.argv[1]))
html = open(sys.argv[2]).read()
rows = {r["setting"]: r for r in data["rows"]}
assert list(rows) == ["watch", "watch + health 1s", "poll 60s", "no ejection", "lr"], list(rows)
assert rows["lr"]["policy"] == "least_request" and rows["watch"]["policy"] == "round_robin", rows
# Passive ejection (the default) and health checks both catch the hang;
# polling misses new pods for up to a minute.
assert rows["watch"]["failed"] * 20 <= rows["no ejection"]["failed"], rows
assert rows["watch + health 1s"]["failed"] < rows["no ejection"]["failed"], rows
assert rows["watch"]["ejection"] and not rows["no ejection"]["ejection"], rows
assert rows["poll 60s"]["new_pod_first_use_max_s"] > 10 * rows["watch"]["new_pod_first_use_max_s"], rows
assert rows["poll 60s"]["api_watches"] == 0 and rows["watch"]["api_watches"] >= 1, rows
# What health checks cost: none without them, pods x 1/s with them.
assert rows["watch"]["health_rpcs_per_s"] == 0, rows
assert 3 <= rows["watch + health 1s"]["health_rpcs_per_s"] <= 6, rows
# The chart's labels say what the table says (0.05, not 0.1).
for r in data["rows"]:
    v = r["new_pod_first_use_median_s"]
    label = ("%.0f" % v) if abs(v - round(v)) < 1e-9 else ("%.3g" % v)
    assert re.search(r'<svg id="first-use".*?>%s s<' % re.escape(("%.0f" % r["new_pod_first_use_max_s"]) if abs(r["new_pod_first_use_max_s"] - round(r["new_pod_first_use_max_s"])) < 1e-9 else ("%.3g" % r["new_pod_first_use_max_s"])), html, re.S), r
for chart in ("failed", "to-gone", "first-use", "api-requests", "health-cost"):
    assert f'<svg id="{chart}"' in html, chart
    assert len(re.findall(r'<svg id="%s".*?</svg>' % chart, html, re.S)) == 1
assert html.count("<tr><td>") == len(rows)
embedded = json.loads(re.search(r'id="kube-grpc-data">(.*?)</script>', html, re.S).group(1))
assert embedded == data
# It says which setting it would choose, and why, in the table and the page.
choice = data["choice"]
assert any(choice.startswith('Choice for this scenario: "%s"' % name) for name in rows), choice
assert "failed calls" in choice, choice
assert '<p id="choice">' in html
print("intervals: deterministic, consistent, discriminating")
PY
# The default scenario: the default settings (passive ejection) fail at most
# 5 % of the calls that the pool without it failed.
"$intervals" --settings="name=default;name=off,ejection=off" --html="$dir/d.html" \
  --json="$dir/d.json" >"$dir/d.txt"
/usr/bin/python3 - "$dir/d.json" <<'PY'
import json, sys
rows = {r["setting"]: r for r in json.load(open(sys.argv[1]))["rows"]}
print("default scenario: failed calls %d with ejection, %d without" % (rows["default"]["failed"], rows["off"]["failed"]))
assert rows["off"]["failed"] > 1000, rows
assert rows["default"]["failed"] <= 0.05 * rows["off"]["failed"], rows
PY
for bad in "watch=maybe" "resync=0s" "health=soon" "ejection=maybe" "policy=random" "bogus"; do
  if "$intervals" --scenario="$dir/s.yaml" --settings="$bad" >/dev/null 2>"$dir/err.txt"; then
    echo "accepted bad --settings=$bad"
    exit 1
  fi
  grep -q "settings" "$dir/err.txt"
done
