"""Pages through pods with the official Kubernetes python client (limit/_continue).

Usage: interop_python_paging.py URL TOKEN CA_FILE NAMESPACE EXPIRED_TOKEN

Lists the namespace's pods two at a time, following metadata._continue, then
sends a malformed continue token and an expired one (made by the test before a
compaction) and prints the HTTP status of each error. Output lines:
  PAGE <n> <resourceVersion> <names...>
  TOTAL <pages> <items>
  BAD <status>
  EXPIRED <status> <reason>
"""

import json
import sys

from kubernetes import client
from kubernetes.client.rest import ApiException


def main():
    url, token, ca_file, ns, expired = sys.argv[1:6]
    cfg = client.Configuration()
    cfg.host = url
    cfg.ssl_ca_cert = ca_file
    cfg.verify_ssl = True
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    core = client.CoreV1Api(client.ApiClient(cfg))

    pages = 0
    items = 0
    cont = None
    while True:
        kwargs = {"limit": 2}
        if cont:
            kwargs["_continue"] = cont
        page = core.list_namespaced_pod(ns, **kwargs)
        pages += 1
        items += len(page.items)
        names = [p.metadata.name for p in page.items]
        print("PAGE", pages, page.metadata.resource_version, *names, flush=True)
        cont = page.metadata._continue
        if not cont:
            break
    print("TOTAL", pages, items, flush=True)

    try:
        core.list_namespaced_pod(ns, limit=2, _continue="not-a-token")
        print("BAD none", flush=True)
    except ApiException as e:
        print("BAD", e.status, flush=True)
    try:
        core.list_namespaced_pod(ns, limit=2, _continue=expired)
        print("EXPIRED none", flush=True)
    except ApiException as e:
        print("EXPIRED", e.status, json.loads(e.body).get("reason"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
