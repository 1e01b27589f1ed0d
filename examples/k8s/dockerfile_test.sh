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
# Every shared library the binaries load, once (dpkg -S is slow: one call for
# all). dpkg may know a library by its resolved path or by the path ldd gives
# (merged /usr), so both are asked.
declare -A lib_bin lib_real
for bin in "$@"; do
  for lib in $(ldd "$bin" | awk '$3 ~ /^\// {print $3}'); do
    lib_bin[$lib]=$(basename "$bin")
    lib_real[$lib]=$(readlink -f "$lib")
  done
done
owners=$(dpkg -S "${!lib_bin[@]}" "${lib_real[@]}" 2>/dev/null || true)
for lib in "${!lib_bin[@]}"; do
  pkg=$( (grep -F ": ${lib_real[$lib]}" <<<"$owners" || grep -F ": $lib" <<<"$owners" || true) | head -1)
  pkg=${pkg%%:*}
  [ -n "$pkg" ] || { echo "$lib: not from a Debian package"; exit 1; }
  if ! grep -qx "$pkg" <<<"$packages" && ! grep -qw "$pkg" <<<"$base $sanitizers"; then
    echo "${lib_bin[$lib]} loads $lib from $pkg, which the Dockerfile does not install"
    exit 1
  fi
done
for pkg in $packages; do
  [ "$pkg" = ca-certificates ] && continue
  apt-cache show "$pkg" >/dev/null 2>&1 || { echo "no Debian package $pkg"; exit 1; }
done
echo "Dockerfile packages cover the binaries' libraries"
