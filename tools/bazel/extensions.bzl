"""Module extensions for kube-grpc's MODULE.bazel (bzlmod).

`xds_api` makes `@kubegrpc_xds_api`, the envoy API protos the xDS server is built
from, exactly as `kubegrpc_xds_api()` does under WORKSPACE (xds_api.bzl).
"""

load(":xds_api.bzl", "xds_api_repository")

def _xds_api_impl(mctx):
    xds_api_repository(name = "kubegrpc_xds_api")

xds_api = module_extension(
    implementation = _xds_api_impl,
    doc = "Makes @kubegrpc_xds_api from the pinned npm archive tools/setup.sh fetched.",
)
