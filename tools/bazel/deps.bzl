"""kube-grpc's dependencies, defined offline over Debian's -dev packages.

Every dependency is named the way gRPC's own `grpc_deps()` (and the upstream projects'
BUILD files) name it, so that a monorepo which already loads gRPC, protobuf, abseil or
googletest satisfies kube-grpc's labels with its own copies:

    @com_github_grpc_grpc//:grpc++            @com_google_protobuf//:protobuf
    @com_github_grpc_grpc//src/compiler:grpc_cpp_plugin
    @com_google_protobuf//:protoc             @com_google_absl//absl/status:statusor
    @com_google_googletest//:gtest_main       @com_github_google_benchmark//:benchmark
    @boringssl//:ssl  (the system OpenSSL)    @zlib//:zlib
    @com_github_yhirose_cpp_httplib//:httplib @com_github_nlohmann_json//:json
    @com_github_jbeder_yaml_cpp//:yaml-cpp
    @com_github_jupp0r_prometheus_cpp//core   (optional: //kubegrpc:metrics only)

`kubegrpc_system_deps()` defines each of these repositories only if the workspace has
not defined it already. Each is a `system_repository` (system/system.bzl): `cc_library`
targets without sources over the system's headers, with link flags from `pkg-config`.
`protoc` and `grpc_cpp_plugin` are the binaries from /usr/bin. Install the packages
first with `tools/setup.sh`. Under bzlmod the same table backs the offline registry
(registry/README.md).

It also defines `@kubegrpc_xds_api` (xds_api.bzl): the envoy API protos the xDS server
is built from, unpacked from the npm archive `tools/setup.sh` fetched. Like every
repository here it is read only when a target that needs it is built.
"""

load("//tools/bazel/system:system.bzl", "SYSTEM_LIBRARIES", "system_library_repository")
load(":xds_api.bzl", "kubegrpc_xds_api")

def kubegrpc_system_deps():
    """Defines every dependency of kube-grpc over Debian's libraries, offline.

    A repository the workspace already defined (for instance gRPC from source through
    `grpc_deps()`) is left alone. Call `kubegrpc_bazel_shims()` from shims.bzl first
    when building with Debian's offline Bazel.
    """
    for module, spec in SYSTEM_LIBRARIES.items():
        if not native.existing_rule(spec["workspace_name"]):
            system_library_repository(spec["workspace_name"], module)
    kubegrpc_xds_api()
