#!/usr/bin/env bash
# The greeter example end to end, on loopback only: three greeter servers play a
# Deployment's pods; the standalone fakek8s server (HTTPS, a bearer token, RBAC
# limited to the Role of examples/k8s/greeter.yaml) serves their Service and
# Pods; greeter_client and the original-interface example find every pod
# through it with nothing but a kubeconfig.
set -euo pipefail
server="$1" client="$2" original="$3" fakek8s="$4" manifest="$5"
dir="$TEST_TMPDIR"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# RBAC is minimal: in the namespace, list/watch EndpointSlices and get Services;
# cluster-wide, get Nodes (the client's zone); nothing else.
/usr/bin/python3 - "$manifest" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def rules(kind):
    roles = [d for d in docs if d["kind"] == kind]
    assert len(roles) == 1, roles
    return sorted((tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"])))
                  for r in roles[0]["rules"])
assert rules("Role") == [(("",), ("services",), ("get",)),
                         (("discovery.k8s.io",), ("endpointslices",), ("list", "watch"))]
assert rules("ClusterRole") == [(("",), ("nodes",), ("get",))]
print("RBAC in the manifest is minimal")
PY

# Pod addresses: 127.a.b.1-3, a and b from this shell's pid.
prefix="127.$((2 + $$ % 200)).$(( ($$ / 200) % 250 + 1 ))."
wait_line() {  # file, text
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1"; cat "$1"; return 1
}
"$server" --address="${prefix}1:0" --pod_name=greeter-0 >"$dir/s0.log" 2>&1 &
pids+=($!)
wait_line "$dir/s0.log" "listening on port"
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$dir/s0.log")
for i in 1 2; do
  "$server" --address="${prefix}$((i + 1)):$port" --pod_name="greeter-$i" >"$dir/s$i.log" 2>&1 &
  pids+=($!)
  wait_line "$dir/s$i.log" "listening on port"
done

# The API objects: the manifest's Service and three ready Pods at those addresses.
{
  /usr/bin/python3 - "$manifest" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] in ("Namespace", "Service"):
        print("---"); print(yaml.safe_dump(d))
PY
  # The Node a client reads its zone from (the ClusterRole lets it).
  cat <<YAML
---
apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {topology.kubernetes.io/zone: zone-b}}
YAML
  for i in 0 1 2; do cat <<YAML
---
apiVersion: v1
kind: Pod
metadata: {name: greeter-$i, namespace: demo, labels: {app: greeter}}
spec:
  containers:
    - name: greeter
      ports: [{name: grpc, containerPort: $port}]
status:
  phase: Running
  podIP: ${prefix}$((i + 1))
  conditions: [{type: Ready, status: "True"}]
YAML
  done
} >"$dir/objects.yaml"

"$fakek8s" --manifests="$dir/objects.yaml" --token=e2e-token --rbac_roles="$manifest" \
  --kubeconfig_out="$dir/kubeconfig" >"$dir/fakek8s.log" 2>&1 &
pids+=($!)
wait_line "$dir/fakek8s.log" "kubeconfig written"

export KUBECONFIG="$dir/kubeconfig"
"$client" --target=greeter.demo:50051 --count=30 --wait_for_pods=3 | tee "$dir/client.log"
grep -q "failed: 0" "$dir/client.log"
# Round-robin over the three, once all three are in rotation: 10 each (8 if
# the picker was rebuilt on the way).
each_at_least() {  # log, calls
  for i in 0 1 2; do
    n=$(sed -n "s/.*greeter-$i=\([0-9]*\).*/\1/p" "$1")
    [ "${n:-0}" -ge "$2" ] || { echo "greeter-$i got ${n:-0} calls in $1"; exit 1; }
  done
}
each_at_least "$dir/client.log" 8
# Its pods join the rotation as their first Ping passes: wait for all three.
"$original" --target=greeter.demo:50051 --count=12 --wait_for_pods=3 | tee "$dir/original.log"
each_at_least "$dir/original.log" 3

# The token may get a Node (the ClusterRole) and do nothing else: listing pods
# is refused.
/usr/bin/python3 - "$dir/kubeconfig" <<'PY'
import base64, ssl, sys, tempfile, urllib.error, urllib.request, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cluster = cfg["clusters"][0]["cluster"]
user = cfg["users"][0]["user"]
ca = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
ca.write(base64.b64decode(cluster["certificate-authority-data"])); ca.close()
ctx = ssl.create_default_context(cafile=ca.name)
auth = {"Authorization": "Bearer " + user["token"]}
node = yaml.safe_load(urllib.request.urlopen(
    urllib.request.Request(cluster["server"] + "/api/v1/nodes/node-b", headers=auth), context=ctx))
assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-b", node
print("RBAC allows: get node-b, zone-b")
req = urllib.request.Request(cluster["server"] + "/api/v1/namespaces/demo/pods", headers=auth)
try:
    urllib.request.urlopen(req, context=ctx)
    raise SystemExit("listing pods was allowed")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
print("RBAC enforced: listing pods is forbidden")
PY

# A server stopping (SIGTERM) drains and exits cleanly.
kill -TERM "${pids[1]}"
wait "${pids[1]}"
grep -q "stopping" "$dir/s1.log"
echo "greeter e2e: ok"
