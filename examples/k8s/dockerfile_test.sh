#!/usr/bin/env bash
# The runtime image's package list is right: every shared library the greeter
# binaries load comes from a Debian package the Dockerfile installs (or from
# debian:12-slim itself), and every package it names exists in Debian 12.
set -euo pipefail
dockerfile="$1"
shift
packages=$(sed -n '/apt-get install/,/rm -rf/p' "$dockerfile" | tr ' \\' '\n\n' |
  grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update|y|no|recommends|var|lib|apt|lists)$' |
  grep -v '^-' | sort -u)
echo "Dockerfile installs: $(echo $packages)"
base="libc6 libgcc-s1 libstdc++6"  # in debian:12-slim
# Sanitizer runtimes appear only in --config=asan builds, never in an image.
sanitizers="libasan8 libubsan1 libtsan2"
for bin in "$@"; do
  for lib in $(ldd "$bin" | awk '$3 ~ /^\// {print $3}'); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || { echo "$lib: not from a Debian package"; exit 1; }
    if ! grep -qx "$pkg" <<<"$packages" && ! grep -qw "$pkg" <<<"$base $sanitizers"; then
      echo "$(basename "$bin") loads $lib from $pkg, which the Dockerfile does not install"
      exit 1
    fi
  done
done
for pkg in $packages; do
  [ "$pkg" = ca-certificates ] && continue
  apt-cache show "$pkg" >/dev/null 2>&1 || { echo "no Debian package $pkg"; exit 1; }
done
echo "Dockerfile packages cover the binaries' libraries"
