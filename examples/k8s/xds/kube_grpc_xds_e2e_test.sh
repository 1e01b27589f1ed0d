#!/usr/bin/env bash
# kube-grpc-xds end to end, on loopback only: three greeter servers play the
# greeter Deployment's pods; the standalone fakek8s (HTTPS, the control
# plane's token, RBAC limited to the ClusterRole of kube-grpc-xds.yaml) serves
# their Service; two kube-grpc-xds replicas serve it over ADS; greeter_client
# --xds, a plain gRPC client with nothing but a bootstrap file, calls through
# them. One replica is killed under load: no call fails, and changes still
# reach the client (through the other replica).
set -euo pipefail
xds="$1" server="$2" client="$3" fakek8s="$4" manifest="$5" greeter_manifest="$6" health_proto="$7"
dir="$TEST_TMPDIR"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_line() {  # file, text
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1"; cat "$1"; return 1
}

# The control plane's RBAC is minimal: get Services, list/watch EndpointSlices.
/usr/bin/python3 - "$manifest" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
assert len(roles) == 1 and roles[0]["kind"] == "ClusterRole", roles
rules = sorted((tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"])))
               for r in roles[0]["rules"])
assert rules == [(("",), ("services",), ("get",)),
                 (("discovery.k8s.io",), ("endpointslices",), ("list", "watch"))], rules
client = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "greeter-xds-client"][0]
assert client["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
print("RBAC in the manifest is minimal; the xDS client has no API access")
PY

# Flags: --help exits 0; inconsistent TLS flags are refused with a message.
"$xds" --help >"$dir/help.txt" 2>&1 || { echo "--help failed"; cat "$dir/help.txt"; exit 1; }
grep -q -- "--namespaces" "$dir/help.txt"
"$xds" --tls_cert=/nonexistent >"$dir/bad.txt" 2>&1 && { echo "accepted --tls_cert alone"; exit 1; }
grep -q "tls_cert and --tls_key go together" "$dir/bad.txt"

prefix="127.$((2 + $$ % 200)).$(( ($$ / 200) % 250 + 1 ))."
"$server" --address="${prefix}1:0" --pod_name=greeter-0 >"$dir/s0.log" 2>&1 &
pids+=($!)
wait_line "$dir/s0.log" "listening on port"
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$dir/s0.log")
for i in 1 2; do
  "$server" --address="${prefix}$((i + 1)):$port" --pod_name="greeter-$i" >"$dir/s$i.log" 2>&1 &
  pids+=($!)
  wait_line "$dir/s$i.log" "listening on port"
done

# The greeter Service (with gRPC retries asked for) and three ready Pods.
{
  /usr/bin/python3 - "$greeter_manifest" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] in ("Namespace", "Service"):
        if d["kind"] == "Service":
            d["metadata"]["annotations"] = {
                "kube-grpc.io/retry": '{"retryOn": "unavailable,cancelled", "numRetries": 2}'}
        print("---"); print(yaml.safe_dump(d))
PY
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
"$fakek8s" --manifests="$dir/objects.yaml" --token=xds-token --rbac_roles="$manifest" \
  --kubeconfig_out="$dir/kubeconfig" --admin_kubeconfig_out="$dir/admin" >"$dir/fakek8s.log" 2>&1 &
pids+=($!)
wait_line "$dir/fakek8s.log" "kubeconfig written"
wait_line "$dir/fakek8s.log" "admin kubeconfig written"

# Two replicas of the control plane, on two loopback addresses.
ports=()
for r in 1 2; do
  "$xds" --kubeconfig="$dir/kubeconfig" --listen="${prefix}1$r:0" --namespaces=demo \
    >"$dir/xds$r.log" 2>&1 &
  pids+=($!)
  wait_line "$dir/xds$r.log" "serving ADS"
  ports+=("$(sed -n 's/.*(port \([0-9]*\),.*/\1/p' "$dir/xds$r.log")")
done
xds1_pid=${pids[-2]} xds2_pid=${pids[-1]}

# grpc.health.v1 on the ADS port says SERVING (the readiness probe's check).
protoc --proto_path="$(dirname "$health_proto")" --encode=grpc.health.v1.HealthCheckRequest \
  "$(basename "$health_proto")" </dev/null >"$dir/check.bin"
/usr/bin/python3 - "${prefix}11:${ports[0]}" "$dir/check.bin" >"$dir/health.bin" <<'PY'
import sys, grpc
channel = grpc.insecure_channel(sys.argv[1])
check = channel.unary_unary("/grpc.health.v1.Health/Check")
sys.stdout.buffer.write(check(open(sys.argv[2], "rb").read(), timeout=30))
PY
protoc --proto_path="$(dirname "$health_proto")" --decode=grpc.health.v1.HealthCheckResponse \
  "$(basename "$health_proto")" <"$dir/health.bin" | tee "$dir/health.txt"
grep -q "status: SERVING" "$dir/health.txt"

# The client: gRPC's xDS client, pick_first over the two replicas' addresses
# (in a cluster: the kube-grpc-xds Service's ClusterIP).
cat >"$dir/bootstrap.json" <<JSON
{"xds_servers": [{"server_uri": "ipv4:${prefix}11:${ports[0]},${prefix}12:${ports[1]}",
                  "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
 "node": {"id": "xds-e2e-client"}}
JSON
GRPC_XDS_BOOTSTRAP="$dir/bootstrap.json" "$client" --xds --target=greeter.demo:50051 \
  --count=400 --interval=20ms >"$dir/client.log" 2>&1 &
client_pid=$!
pids+=($client_pid)
wait_line "$dir/client.log" "greeter-2: "
# pick_first: the client's stream is on replica 1.
grep -q 'stream from node "xds-e2e-client" .* opened' "$dir/xds1.log" ||
  { echo "the client is not on replica 1"; cat "$dir/xds1.log"; exit 1; }
# Replica 1 dies (no goodbye); the client keeps its endpoints and reconnects
# to replica 2, through which a change still arrives: greeter-2 is deleted (its
# server keeps running, so only the update stops its calls).
kill -9 "$xds1_pid"
sleep 1
/usr/bin/python3 - "$dir/admin" <<'PY'
import base64, ssl, sys, tempfile, urllib.request, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cluster = cfg["clusters"][0]["cluster"]
user = cfg["users"][0]["user"]
ca = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
ca.write(base64.b64decode(cluster["certificate-authority-data"])); ca.close()
ctx = ssl.create_default_context(cafile=ca.name)
req = urllib.request.Request(cluster["server"] + "/api/v1/namespaces/demo/pods/greeter-2",
                             method="DELETE", headers={"Authorization": "Bearer " + user["token"]})
urllib.request.urlopen(req, context=ctx).read()
print("deleted pod greeter-2")
PY
wait "$client_pid" || { echo "client failed"; cat "$dir/client.log"; exit 1; }
grep -q 'stream from node "xds-e2e-client" .* opened' "$dir/xds2.log" ||
  { echo "the client did not reconnect to replica 2"; cat "$dir/xds2.log"; exit 1; }
tail -2 "$dir/client.log"
grep -q "^failed: 0" "$dir/client.log" || { echo "calls failed"; cat "$dir/client.log"; exit 1; }
# After the deletion had time to arrive, the last 50 calls avoid greeter-2.
if grep -E '^greeter-[0-9]: ' "$dir/client.log" | tail -50 | grep -q '^greeter-2: '; then
  echo "greeter-2 still called: the update did not come through replica 2"; exit 1
fi
echo "replica 1 killed: 0 failed calls, and the deletion reached the client through replica 2"

kill -TERM "$xds2_pid"
wait "$xds2_pid"
grep -q "SIGTERM, stopping" "$dir/xds2.log"
echo "kube-grpc-xds stopped cleanly on SIGTERM"
