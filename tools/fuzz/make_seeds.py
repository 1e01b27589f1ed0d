#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/corpus/<target>/seed-*.

The seeds come from ../shared/fixtures/k8s/ (real and synthetic API responses)
and from hand-written kubeconfigs, targets and requests. Inputs that fuzzing
found later live beside them, named by their SHA-1 (libFuzzer's naming).
Run from the repository root: python3 tools/fuzz/make_seeds.py [fixtures_dir]
"""
import os
import struct
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "fixtures", "k8s")
corpus = os.path.join(root, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fixture(*parts):
    with open(os.path.join(fixtures, *parts), "rb") as f:
        return f.read()


def fixture_files():
    for kind in ("real", "synthetic"):
        for name in sorted(os.listdir(os.path.join(fixtures, kind))):
            path = os.path.join(fixtures, kind, name)
            if os.path.isfile(path):
                yield kind, name, fixture(kind, name)


# watch_stream_fuzz: byte 0 = source (bit 0) | limit index << 1; bytes 1-4 = chunk seed.
for kind, name, data in fixture_files():
    if name.endswith(".jsonl") or "watch" in name.lower():
        for source in (0, 1):
            for limit in (0, 3):
                header = bytes([source | (limit << 1)]) + struct.pack("<I", 12345 + limit)
                write("watch_stream_fuzz", f"{kind}-{name}-s{source}-l{limit}", header + data)
# Watch events built from the single-object fixtures.
for obj, source in (("k8s-api-roundtrip-discovery.k8s.io.v1.EndpointSlice.json", 0),
                    ("k8s-api-roundtrip-core.v1.Endpoints.json", 1)):
    body = fixture("real", obj).replace(b"\n", b"")
    stream = b"".join(b'{"type":"%s","object":%s}\n' % (t, body) for t in (b"ADDED", b"MODIFIED", b"DELETED"))
    stream += b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"99"}}}\n'
    write("watch_stream_fuzz", f"events-{obj}", bytes([source]) + struct.pack("<I", 7) + stream)

# k8s_json_fuzz: byte 0 = HTTP code index (see the target), the rest a body.
codes = {"401": 2, "403": 3, "404": 4, "409": 5, "410": 6, "422": 7, "429": 8, "500": 9}
for kind, name, data in fixture_files():
    if name.endswith(".json"):
        code = next((i for c, i in codes.items() if c in name), 0)
        write("k8s_json_fuzz", f"{kind}-{name}", bytes([code]) + data)
    if name.endswith(".jsonl"):
        for i, line in enumerate(data.splitlines()[:4]):
            write("k8s_json_fuzz", f"{kind}-{name}-line{i}", bytes([0]) + line)
write("k8s_json_fuzz", "html-502", bytes([10]) + b"<html><body><h1>502 Bad Gateway</h1></body></html>")
write("k8s_json_fuzz", "plain-429", bytes([8 | 16]) + b"Too many requests, please try again later.\n")

# kubeconfig_fuzz: whole kubeconfig files.
kubeconfigs = {
    "token": """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    tls-server-name: kubernetes
users:
- name: u
  user:
    token: abc
contexts:
- name: x
  context: {cluster: c, user: u, namespace: demo}
current-context: x
""",
    "files": """clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:6443', certificate-authority: ca.pem, insecure-skip-tls-verify: true}
users:
- name: u
  user: {tokenFile: token, client-certificate: cert.pem, client-key: key.pem}
contexts:
- {name: x, context: {cluster: c, user: u}}
current-context: x
""",
    "exec": """clusters: [{name: c, cluster: {server: 'https://h'}}]
users: [{name: u, user: {exec: {command: gcloud, args: [a]}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""",
    "anchors": """base: &b {server: 'https://h'}
clusters: [{name: c, cluster: *b}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
""",
}
for name, text in kubeconfigs.items():
    write("kubeconfig_fuzz", name, text)

# target_fuzz: target strings.
for i, t in enumerate(["greeter.prod.svc.cluster.local:50051", "greeter.prod.svc:50051",
                       "greeter.prod:grpc", "greeter:8080", "kubernetes:///greeter.prod:50051",
                       "kubernetes:///greeter:grpc", "kubernetes://greeter:1", "greeter.prod.svc.example.org:65535",
                       "[::1]:80", "greeter", "GREETER:1", "a.b.c.d.e:0"]):
    write("target_fuzz", str(i), t)

# fakek8s_request_fuzz: byte 0 bit 0 = the server with a token and RBAC.
auth = "Authorization: Bearer fuzz-token\n"
requests = {
    "discovery": (0, "GET /apis/discovery.k8s.io/v1\n\n"),
    "version": (0, "GET /version\n\n"),
    "get-service": (1, "GET /api/v1/namespaces/demo/services/web\n" + auth + "\n"),
    "list-slices": (1, "GET /apis/discovery.k8s.io/v1/namespaces/demo/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb&limit=10\n" + auth + "\n"),
    "watch-slices": (0, "GET /apis/discovery.k8s.io/v1/namespaces/demo/endpointslices?watch=1&resourceVersion=1&allowWatchBookmarks=true&timeoutSeconds=5\n\n"),
    "watchlist": (0, "GET /api/v1/namespaces/demo/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true\n\n"),
    "list-pods-denied": (1, "GET /api/v1/namespaces/demo/pods?fieldSelector=status.phase%3DRunning\n" + auth + "\n"),
    "list-endpoints": (0, "GET /api/v1/endpoints?labelSelector=app+in+(web,api),!canary\n\n"),
    "create-pod": (0, "POST /api/v1/namespaces/demo/pods\nContent-Type: application/json\n\n"
                   '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-","labels":{"app":"web"}},'
                   '"spec":{"containers":[{"name":"c","ports":[{"name":"grpc","containerPort":8080}]}]}}'),
    "patch-status": (0, "PATCH /api/v1/namespaces/demo/pods/web-0/status\nContent-Type: application/merge-patch+json\n\n"
                     '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}'),
    "json-patch": (0, "PATCH /api/v1/namespaces/demo/services/web\nContent-Type: application/json-patch+json\n\n"
                   '[{"op":"replace","path":"/spec/ports/0/port","value":81}]'),
    "strategic": (0, "PATCH /api/v1/namespaces/demo/pods/web-1\nContent-Type: application/strategic-merge-patch+json\n\n"
                  '{"metadata":{"labels":{"app":null}}}'),
    "put-service": (0, "PUT /api/v1/namespaces/demo/services/web\nContent-Type: application/json\n\n"
                    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","resourceVersion":"1"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}'),
    "delete-pod": (0, "DELETE /api/v1/namespaces/demo/pods/web-2?gracePeriodSeconds=0\n\n"),
    "legacy-watch": (0, "GET /api/v1/watch/namespaces/demo/endpoints/web\n\n"),
    "bad-token": (1, "GET /api/v1/namespaces/demo/services/web\nAuthorization: Bearer nope\n\n"),
    "openapi": (0, "GET /openapi/v3/apis/discovery.k8s.io/v1\n\n"),
}
for name, (flag, text) in requests.items():
    write("fakek8s_request_fuzz", name, bytes([flag]) + text.encode())
print("seeds written to", corpus)
