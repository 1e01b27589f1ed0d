"""Drives fakek8s with the official Kubernetes python client (Debian's python3-kubernetes).

Usage: interop_python_client.py URL TOKEN CA_FILE NAMESPACE SERVICE

Lists the Service's EndpointSlices and Endpoints, then watches each from the list's
resourceVersion with watch.Watch().stream. The driving test answers each WATCHING line
by adding a pod; this script prints every event and stops a watch once it sees the
pod's IP. Output lines:
  LISTED <kind> <n items> <addresses...>
  WATCHING <kind> <resourceVersion>
  EVENT <kind> <type> <name> <addresses...>
  SAW <kind> <ip>
"""

import sys

from kubernetes import client, watch


def slice_addresses(s):
    return [e.addresses[0] for e in (s.endpoints or [])]


def endpoints_addresses(ep):
    out = []
    for subset in ep.subsets or []:
        out += [a.ip for a in (subset.addresses or [])]
    return out


def watch_until(kind, list_fn, ns, addresses_fn, expect_ip, **kwargs):
    listed = list_fn(ns, **kwargs)
    rv = listed.metadata.resource_version
    ips = [ip for item in listed.items for ip in addresses_fn(item)]
    print("LISTED", kind, len(listed.items), *sorted(ips), flush=True)
    print("WATCHING", kind, rv, flush=True)
    w = watch.Watch()
    # The API method itself (not a wrapper): watch.stream reads its return type to
    # deserialize events into V1EndpointSlice / V1Endpoints.
    for event in w.stream(list_fn, ns, resource_version=rv, timeout_seconds=60, **kwargs):
        obj = event["object"]
        ips = addresses_fn(obj)
        print("EVENT", kind, event["type"], obj.metadata.name, *ips, flush=True)
        if expect_ip in ips:
            print("SAW", kind, expect_ip, flush=True)
            w.stop()
            return True
    return False


def main():
    url, token, ca_file, ns, service = sys.argv[1:6]
    cfg = client.Configuration()
    cfg.host = url
    cfg.ssl_ca_cert = ca_file
    cfg.verify_ssl = True
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    api = client.ApiClient(cfg)
    discovery = client.DiscoveryV1Api(api)
    core = client.CoreV1Api(api)
    selector = "kubernetes.io/service-name=" + service

    ok = watch_until(
        "EndpointSlice",
        discovery.list_namespaced_endpoint_slice,
        ns,
        slice_addresses,
        "127.0.10.7",
        label_selector=selector,
    )
    ok = ok and watch_until(
        "Endpoints",
        core.list_namespaced_endpoints,
        ns,
        endpoints_addresses,
        "127.0.10.8",
        field_selector="metadata.name=" + service,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
