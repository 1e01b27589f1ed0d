"""`@kubegrpc_xds_api`: the envoy / xds API protos the xDS server speaks, offline.

Neither Debian nor Bazel 4 offline has the envoy API protos. The npm package
`@grpc/grpc-js-xds` vendors them (with the xds, googleapis and protoc-gen-validate
protos they import) under `package/deps/`. `tools/setup.sh` fetches the pinned
version with `npm pack` and checks its SHA-256; this repository rule unpacks that
file, takes the import closure of the protos the server needs (`ROOTS`), lays each
one out under its import path, and generates two targets:

    @kubegrpc_xds_api//:xds_api_cc     messages (Listener, RouteConfiguration,
                                       Cluster, ClusterLoadAssignment, ...)
    @kubegrpc_xds_api//:ads_cc_grpc    envoy.service.discovery.v3's
                                       AggregatedDiscoveryService (server and stub)

C++ includes them by import path, e.g.
`#include "envoy/service/discovery/v3/ads.grpc.pb.h"`.

One fix is applied, and only one: the bundled `validate/validate.proto` is older
than the envoy API that uses it, whose options set `ignore_empty` on string, bytes,
repeated and map rules; protoc 3.21 rejects those options unless the field exists.
The rule adds `optional bool ignore_empty` to those four messages with the field
numbers upstream protoc-gen-validate gives them (26, 14, 5, 6). The options are
annotations only: nothing here validates with them.
"""

XDS_API_VERSION = "1.14.1"
XDS_API_SHA256 = "fd27db4119c139d5b59e8fe99d109bed04bff491302743ae3bf096667105c607"
XDS_API_ARCHIVE = "/var/cache/kube-grpc/grpc-grpc-js-xds-%s.tgz" % XDS_API_VERSION

# The protos the server builds its resources from; everything they import comes along.
ROOTS = [
    "envoy/service/discovery/v3/ads.proto",
    "envoy/config/listener/v3/listener.proto",
    "envoy/config/route/v3/route.proto",
    "envoy/config/cluster/v3/cluster.proto",
    "envoy/config/endpoint/v3/endpoint.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
]

# Where each import root of the package's deps/ directory lives.
_SOURCE_ROOTS = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"]

# (message, field number) for the ignore_empty fix; see the module docstring.
_IGNORE_EMPTY = [("StringRules", 26), ("BytesRules", 14), ("RepeatedRules", 5), ("MapRules", 6)]

def _imports(text):
    """The paths a .proto file imports (plain, public and weak imports)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("import "):
            continue
        parts = line.split("\"")
        if len(parts) >= 3:
            out.append(parts[1])
    return out

def _add_ignore_empty(text):
    """validate.proto with ignore_empty added to the rules that lack it."""
    for message, number in _IGNORE_EMPTY:
        start = text.find("message %s {" % message)
        if start < 0:
            fail("kube-grpc: validate.proto has no message %s" % message)

        # The message's closing brace: the first line that is exactly "}" after it.
        end = text.find("\n}", start)
        if end < 0:
            fail("kube-grpc: validate.proto: message %s is not closed" % message)
        if text[start:end].find("ignore_empty") >= 0:
            continue
        text = (text[:end] + "\n\n    // Added by kube-grpc (tools/bazel/xds_api.bzl): the envoy " +
                "API sets it.\n    optional bool ignore_empty = %d;" % number + text[end:])
    return text

def _xds_api_repository_impl(rctx):
    archive = rctx.path(rctx.attr.archive)
    if not archive.exists:
        fail(("kube-grpc: %s is missing: @kubegrpc_xds_api needs the envoy API protos of " +
              "npm's @grpc/grpc-js-xds@%s. Run tools/setup.sh (it fetches and checks them).") %
             (rctx.attr.archive, XDS_API_VERSION))
    sha = rctx.execute(["sha256sum", str(archive)])
    if sha.return_code != 0:
        fail("kube-grpc: sha256sum %s failed: %s" % (archive, sha.stderr))
    got = sha.stdout.split(" ")[0].strip()
    if got != rctx.attr.sha256:
        fail("kube-grpc: %s has SHA-256 %s, expected %s. Delete it and run tools/setup.sh." %
             (archive, got, rctx.attr.sha256))
    rctx.extract(archive, output = "_npm", stripPrefix = "package/deps")

    # The import closure of ROOTS, breadth first (Starlark has no while loop:
    # the bound is far above the ~65 files it takes).
    where = {}  # import path -> source root
    queue = list(rctx.attr.roots)
    for _ in range(10000):
        if not queue:
            break
        path = queue.pop(0)
        if path in where or path.startswith("google/protobuf/"):
            continue  # the well-known types come with protobuf
        found = None
        for root in _SOURCE_ROOTS:
            if rctx.path("_npm/%s/%s" % (root, path)).exists:
                found = root
                break
        if found == None:
            fail("kube-grpc: %s (imported by the xDS protos) is not in the npm package" % path)
        where[path] = found
        queue.extend(_imports(rctx.read("_npm/%s/%s" % (found, path))))
    if queue:
        fail("kube-grpc: the xDS proto closure did not converge")

    for path, root in where.items():
        if path == "validate/validate.proto":
            rctx.file(path, _add_ignore_empty(rctx.read("_npm/%s/%s" % (root, path))))
        else:
            rctx.symlink("_npm/%s/%s" % (root, path), path)

    ads = "envoy/service/discovery/v3/ads.proto"
    messages = sorted([p for p in where.keys() if p != ads])
    rctx.file("WORKSPACE", "workspace(name = %r)\n" % rctx.name)
    rctx.file("BUILD.bazel", """# Generated by kube-grpc's kubegrpc_xds_api(): the envoy API protos of
# npm's @grpc/grpc-js-xds@{version} (tools/bazel/xds_api.bzl).
load("@kube_grpc//tools/bazel:proto.bzl", "kubegrpc_cc_grpc_library")

package(default_visibility = ["//visibility:public"])

kubegrpc_cc_grpc_library(
    name = "xds_api_cc",
    srcs = {messages},
    grpc = False,
    copts = ["-w"],  # generated from third-party protos (deprecated enums warn)
)

kubegrpc_cc_grpc_library(
    name = "ads_cc_grpc",
    srcs = [{ads}],
    deps = [":xds_api_cc"],
    copts = ["-w"],
)
""".format(version = XDS_API_VERSION, messages = repr(messages), ads = repr(ads)))

xds_api_repository = repository_rule(
    implementation = _xds_api_repository_impl,
    attrs = {
        "archive": attr.string(default = XDS_API_ARCHIVE),
        "sha256": attr.string(default = XDS_API_SHA256),
        "roots": attr.string_list(default = ROOTS),
    },
    local = True,
    doc = "The envoy / xds API protos (and their imports) from the npm package.",
)

def kubegrpc_xds_api():
    """Defines @kubegrpc_xds_api unless the workspace already has it."""
    if not native.existing_rule("kubegrpc_xds_api"):
        xds_api_repository(name = "kubegrpc_xds_api")
