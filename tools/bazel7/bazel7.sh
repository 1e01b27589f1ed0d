#!/usr/bin/env bash
# Runs Bazel 7.7.1 with bzlmod only (no WORKSPACE) on this checkout, offline.
#
#   tools/bazel7/bazel7.sh test //...                 the whole suite
#   tools/bazel7/bazel7.sh --dir=examples/consumer run //:client
#
# Debian 12 has only Bazel 4, so this builds a Debian sid chroot once, with sid's
# Bazel 7.7.1, its packaged rules (rules_cc, platforms, ...) and sid's -dev
# libraries (abseil 20260526, cpp-httplib 0.41, gRPC 1.51), and runs Bazel inside
# it with the checkout bind-mounted at /src/kube-grpc. Dependencies come from the
# offline registry in tools/bazel/registry (tools/bazel7/bazelrc), so nothing is
# downloaded but Debian's packages.
#
# The chroot lives in $KUBEGRPC_BAZEL7_ROOT (default /var/cache/kube-grpc/bazel7-sid)
# and is kept: the next run reuses it, and Bazel's disk cache inside it. Delete the
# directory to start again. Needs root (debootstrap, chroot, mount).
#
# Options (before the Bazel command):
#   --dir=PATH   run Bazel in PATH (relative to the checkout), e.g. examples/consumer
#   --setup      only build (or update) the chroot
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/../.." && pwd)
root=${KUBEGRPC_BAZEL7_ROOT:-/var/cache/kube-grpc/bazel7-sid}
mirror=${KUBEGRPC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
inside=/src/kube-grpc

# What the build and the tests need inside the chroot (compare tools/setup.sh).
PACKAGES=(
  bazel-bootstrap bazel-rules-cc bazel-platforms bazel-skylib bazel-rules-proto
  bazel-rules-license bazel-rules-shell
  g++ pkg-config
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libabsl-dev libre2-dev libc-ares-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev openssl
  prometheus-cpp-dev zlib1g-dev libbrotli-dev
  python3 python3-kubernetes python3-grpcio python3-yaml ca-certificates
  chromium kubectl
  # Bazel's test runner zips undeclared test outputs and asks `file` about them.
  file zip
)

die() {
  echo "bazel7: $*" >&2
  exit 1
}

dir=""
setup_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir=*) dir=${1#--dir=} ;;
    --setup) setup_only=1 ;;
    *) break ;;
  esac
  shift
done
[ "$setup_only" -eq 1 ] || [ $# -gt 0 ] || die "usage: $0 [--dir=PATH] [--setup] <bazel command> [args...]"
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount); run it with sudo"

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9

# Mounts, private so that nothing propagates back to the host, and undone on exit
# (after Bazel's server, which holds them, has stopped). apt needs them too.
mounted=()
mounts_under_root() {  # every mount point at or below $root, deepest first
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r
}
cleanup() {
  if [ -x "$root/usr/bin/bazel" ] && [ "${#mounted[@]}" -gt 0 ]; then
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin \
      bash -c "cd '$inside/$dir' 2>/dev/null && bazel --bazelrc='$inside/tools/bazel7/bazelrc' shutdown" >/dev/null 2>&1 || true
  fi
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  mounted=()
}
trap cleanup EXIT
mount_private() {  # mount_private TARGET MOUNT-ARGS...
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target" || die "mount $* $target failed"
  mounted+=("$target")
  mount --make-rprivate "$target" 2>/dev/null || true
}
mount_all() {
  mount_private "$root/proc" -t proc proc
  mount_private "$root/sys" -t sysfs sysfs
  mount_private "$root/dev" --bind /dev
  mount_private "$root/dev/shm" -t tmpfs -o mode=1777 tmpfs
  mount_private "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666 devpts
  mount_private "$root$inside" --bind "$checkout"
}

# Left over from a run that was killed: unmount before anything else (and never
# delete a directory that still has the host's /dev or the checkout mounted in it).
for m in $(mounts_under_root); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
[ -z "$(mounts_under_root)" ] || die "cannot unmount $(mounts_under_root | tr '\n' ' ')"

# The base system, once (a half-built one is removed and built again).
if [ ! -f "$root/.kube-grpc-debootstrapped" ]; then
  command -v debootstrap >/dev/null || {
    echo "bazel7: installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      die "could not install debootstrap from Debian's archive"
  }
  rm -rf --one-file-system "$root"
  echo "bazel7: building a Debian sid chroot in $root (once; about three minutes with its packages)"
  if ! debootstrap --variant=minbase sid "$root" "$mirror" >"$root.debootstrap.log" 2>&1; then
    tail -5 "$root.debootstrap.log" >&2
    die "debootstrap sid from $mirror failed (log: $root.debootstrap.log)"
  fi
  touch "$root/.kube-grpc-debootstrapped"
fi

mount_all

# The packages, again whenever the list changes (or a previous install failed).
packages_id=$(printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$root/.kube-grpc-ready" 2>/dev/null)" != "$packages_id" ]; then
  echo "bazel7: installing packages in the chroot: ${PACKAGES[*]}"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The archive's snapshot is older than sid's Valid-Until window; an install that
  # was cut short is finished first.
  if ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    bash -c "dpkg --configure -a &&
             apt-get -qq -o Acquire::Check-Valid-Until=false update &&
             apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}" >"$root.apt.log" 2>&1; then
    tail -20 "$root.apt.log" >&2
    die "installing packages in the sid chroot failed (log: $root.apt.log)"
  fi
  echo "$packages_id" >"$root/.kube-grpc-ready"
fi
[ "$setup_only" -eq 0 ] || { echo "bazel7: chroot ready in $root"; exit 0; }

# The envoy API protos tools/setup.sh fetched (tools/bazel/xds_api.bzl reads them).
mkdir -p "$root/var/cache/kube-grpc"
for f in /var/cache/kube-grpc/*.tgz; do
  [ -f "$f" ] && cp -u "$f" "$root/var/cache/kube-grpc/"
done
cp /etc/hosts "$root/etc/hosts"

# Bazel's own environment: a clean one, as on a fresh machine.
status=0
chroot "$root" /usr/bin/env -i HOME=/root USER=root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd "$1" && shift && exec bazel --bazelrc="$0" "$@"' \
  "$inside/tools/bazel7/bazelrc" "$inside/$dir" "$@" || status=$?
exit "$status"
