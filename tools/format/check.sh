#!/usr/bin/env bash
# Checks that C++ files follow .clang-format (Google style, 100 columns).
#   tools/format/check.sh            every C++ file git tracks (what CI runs)
#   tools/format/check.sh BASE       only the C++ files changed since BASE (a commit)
#   tools/format/check.sh --fix ...  formats them in place instead
# Prints each file that is not formatted and exits 1 if there is one.
set -uo pipefail
cd "$(dirname "$0")/../.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "format: $CLANG_FORMAT not found (tools/setup.sh installs it)" >&2
  exit 2
fi
fix=0
if [ "${1:-}" = "--fix" ]; then
  fix=1
  shift
fi
if [ $# -gt 0 ]; then
  mapfile -t files < <(git diff --name-only --diff-filter=ACMR "$1" -- '*.cc' '*.h')
else
  mapfile -t files < <(git ls-files -- '*.cc' '*.h')
fi
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if [ "$fix" -eq 1 ]; then
    "$CLANG_FORMAT" -i "$f"
  elif ! "$CLANG_FORMAT" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f is not formatted (fix: $CLANG_FORMAT -i $f)"
    bad=1
  fi
done
if [ "$fix" -eq 0 ]; then
  echo "format: ${#files[@]} files checked, $([ "$bad" -eq 0 ] && echo "all formatted" || echo "some not formatted")"
fi
exit "$bad"
