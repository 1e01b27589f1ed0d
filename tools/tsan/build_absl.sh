#!/usr/bin/env bash
# Builds Debian 12's abseil (the same source and patches as libabsl-dev) with
# ThreadSanitizer into /opt/kubegrpc-absl-tsan, for `bazel test --config=tsan`.
#
# Why: ThreadSanitizer only sees synchronization it instruments or intercepts.
# Debian's libabsl is not instrumented, so every absl::Mutex would be invisible
# and every guarded field would look racy. This copy is built with
# -fsanitize=thread and an inline namespace of its own (kubegrpc_tsan instead of
# Debian's debian3), so it sits beside the system abseil that libgrpc uses without a
# single shared symbol. Our code compiles against it under --config=tsan.
#
# Idempotent: does nothing if the prefix is already built from this script's
# inputs. Needs clang-14, cmake, curl (tools/setup.sh) and the Debian archive.
set -euo pipefail

PREFIX=/opt/kubegrpc-absl-tsan
VERSION=20220623.1
DEBIAN_REVISION=1+deb12u2
ORIG=abseil_${VERSION}.orig.tar.gz
DEBIAN=abseil_${VERSION}-${DEBIAN_REVISION}.debian.tar.xz
ORIG_SHA256=abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe
DEBIAN_SHA256=e08490fc7b6f3beca1925953b0c4fb92df2de5e2a01295e4641e2a3d4e528eeb
POOL=http://deb.debian.org/debian/pool/main/a/abseil
STAMP="$PREFIX/.built-from-$VERSION-$DEBIAN_REVISION-v2"

if [ -f "$STAMP" ]; then
  echo "tsan abseil: already built in $PREFIX"
  exit 0
fi
for tool in clang-14 clang++-14 cmake curl; do
  command -v "$tool" >/dev/null || { echo "tsan abseil: $tool not found (run tools/setup.sh)"; exit 1; }
done

work=$(mktemp -d /tmp/kubegrpc-absl-tsan.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
curl -fsS -o "$ORIG" "$POOL/$ORIG"
curl -fsS -o "$DEBIAN" "$POOL/${DEBIAN//+/%2B}"
echo "$ORIG_SHA256  $ORIG" | sha256sum -c --quiet
echo "$DEBIAN_SHA256  $DEBIAN" | sha256sum -c --quiet
tar xzf "$ORIG"
src=$(find . -maxdepth 1 -type d -name 'abseil*' | head -1)
tar xJf "$DEBIAN" -C "$src"
# Debian's patches, in order (the same configuration as the system package).
if [ -f "$src/debian/patches/series" ]; then
  while read -r p; do
    case "$p" in ''|'#'*) continue ;; esac
    patch -d "$src" -p1 --quiet < "$src/debian/patches/$p"
  done < "$src/debian/patches/series"
fi
# A namespace of its own: no symbol in common with the system abseil.
sed -i 's/^#define ABSL_OPTION_INLINE_NAMESPACE_NAME .*/#define ABSL_OPTION_INLINE_NAMESPACE_NAME kubegrpc_tsan/' \
  "$src/absl/base/options.h"
grep -q '^#define ABSL_OPTION_INLINE_NAMESPACE_NAME kubegrpc_tsan' "$src/absl/base/options.h"
# Files of their own too (libkgtsan_absl_*.so, with their own sonames): libgrpc
# keeps loading the system's libabsl_*.so.20220623, never these.
sed -i 's/OUTPUT_NAME "absl_\${_NAME}"/OUTPUT_NAME "kgtsan_absl_${_NAME}"/; s/:-labsl_\${_NAME}>/:-lkgtsan_absl_${_NAME}>/' \
  "$src/CMake/AbseilHelpers.cmake"
grep -q 'OUTPUT_NAME "kgtsan_absl_' "$src/CMake/AbseilHelpers.cmake"
grep -q -- '-lkgtsan_absl_' "$src/CMake/AbseilHelpers.cmake"
# The same options as the system package (Debian sets abseil's own types).
for option in ANY OPTIONAL STRING_VIEW VARIANT; do
  want=$(grep -E "^#define ABSL_OPTION_USE_STD_$option " /usr/include/absl/base/options.h)
  have=$(grep -E "^#define ABSL_OPTION_USE_STD_$option " "$src/absl/base/options.h")
  [ "$want" = "$have" ] || { echo "tsan abseil: options differ from the system's: $have"; exit 1; }
done

flags="-fsanitize=thread -O1 -g -fno-omit-frame-pointer"
cmake -S "$src" -B build -G "Unix Makefiles" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DABSL_PROPAGATE_CXX_STD=ON \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_INSTALL_RPATH="$PREFIX/lib" >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
rm -rf "$PREFIX"
cmake --install build >/dev/null
touch "$STAMP"
echo "tsan abseil: built in $PREFIX"
