#!/usr/bin/env bash
# Installs every Debian package that kube-grpc's build, tests and benchmarks need.
# Idempotent: safe to run again. Debian 12 (bookworm), as root (or with sudo).
# Usage: sudo tools/setup.sh
set -euo pipefail

PACKAGES=(
  # Build system: Bazel 4.2.3 and the platform definitions it needs offline.
  bazel-bootstrap bazel-platforms
  # pkg-config: tools/bazel/deps.bzl reads each library's link flags from it.
  pkg-config
  # Compilers: g++ (default) and clang 14 (thread-safety analysis, sanitizers, fuzzing).
  build-essential g++ clang-14 libclang-rt-14-dev llvm-14 lld-14
  # tools/format/check.sh: .clang-format is checked in CI.
  clang-format-14
  # gRPC / protobuf, with protoc and grpc_cpp_plugin.
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libabsl-dev libre2-dev libc-ares-dev
  # Tests and benchmarks.
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # HTTP/JSON/YAML for the Kubernetes client and fakek8s (TLS via OpenSSL).
  libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev openssl
  # Prometheus metrics (//kubegrpc:metrics, optional for users).
  prometheus-cpp-dev
  zlib1g-dev libbrotli-dev
  # Interop tests: the official python client and grpcio, and tooling.
  python3 python3-kubernetes python3-grpcio python3-yaml ca-certificates
  # The HTML reports are checked by rendering them in headless Chromium.
  chromium
  # tools/tsan/build_absl.sh: Debian's abseil source, built with ThreadSanitizer.
  cmake curl patch xz-utils
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The envoy API protos for the xDS server (@kubegrpc_xds_api, tools/bazel/xds_api.bzl):
# npm's @grpc/grpc-js-xds vendors them. Fetched once with `npm pack`, pinned by the
# version and SHA-256 that xds_api.bzl names, kept under /var/cache/kube-grpc.
here=$(cd "$(dirname "$0")" && pwd)
xds_version=$(sed -n 's/^XDS_API_VERSION = "\(.*\)"$/\1/p' "$here/bazel/xds_api.bzl")
xds_sha256=$(sed -n 's/^XDS_API_SHA256 = "\(.*\)"$/\1/p' "$here/bazel/xds_api.bzl")
xds_archive="/var/cache/kube-grpc/grpc-grpc-js-xds-$xds_version.tgz"
if [ -z "$xds_version" ] || [ -z "$xds_sha256" ]; then
  echo "setup: cannot read the xDS proto pin from $here/bazel/xds_api.bzl" >&2
  exit 1
fi
if ! echo "$xds_sha256  $xds_archive" | sha256sum --check --status 2>/dev/null; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing npm (to fetch the envoy API protos)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && npm pack --silent "@grpc/grpc-js-xds@$xds_version" >/dev/null); then
    rm -rf "$tmp"
    echo "setup: npm pack @grpc/grpc-js-xds@$xds_version failed (the npm registry is needed once)" >&2
    exit 1
  fi
  if ! echo "$xds_sha256  $tmp/grpc-grpc-js-xds-$xds_version.tgz" | sha256sum --check --status; then
    echo "setup: @grpc/grpc-js-xds@$xds_version does not have the pinned SHA-256 $xds_sha256" >&2
    sha256sum "$tmp/grpc-grpc-js-xds-$xds_version.tgz" >&2
    rm -rf "$tmp"
    exit 1
  fi
  $SUDO mkdir -p /var/cache/kube-grpc
  $SUDO mv "$tmp/grpc-grpc-js-xds-$xds_version.tgz" "$xds_archive"
  rm -rf "$tmp"
  echo "setup: envoy API protos: $xds_archive"
fi

# kubectl is used by the interop tests when present; Debian 12 does not package it.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: note: kubectl not found; the kubectl interop tests will be skipped"
fi
echo "setup: done"
