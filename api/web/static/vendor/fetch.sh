#!/usr/bin/env bash
# Refresh the workbench's vendored JavaScript (htmx, axe-core) from the npm registry.
#
# Usage:  api/web/static/vendor/fetch.sh        (needs npm and the npm registry)
#
# Files land in <package>@<version>/<path>, byte for byte as in the package's tarball, with the
# package's licence in LICENSES/. To update: change ASSETS, run this script, then change the
# version in README.md and in api/web/assets.py (VENDORED), and run tests/test_web_pages.py.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# "<package>@<version> <path inside the package> [<path> ...]"
ASSETS=(
  "htmx.org@2.0.11 dist/htmx.min.js"
  "axe-core@4.14.1 axe.min.js"
)

[[ "$(basename "$here")" == vendor && -f "$here/fetch.sh" ]] || { echo "unexpected dir $here" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
find "$here" -mindepth 1 -maxdepth 1 ! -name README.md ! -name fetch.sh -exec rm -rf {} +
mkdir -p "$here/LICENSES"

for line in "${ASSETS[@]}"; do
  read -r spec paths <<<"$line"
  dir="$work/$(echo "$spec" | tr '/@' '__')"
  mkdir -p "$dir"
  tarball="$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)"
  tar -xzf "$dir/$tarball" -C "$dir"
  for path in $paths; do
    mkdir -p "$here/$spec"
    cp "$dir/package/$path" "$here/$spec/$(basename "$path")"
    printf '%-40s sha384-%s\n' "$spec/$(basename "$path")" \
      "$(openssl dgst -sha384 -binary "$dir/package/$path" | openssl base64 -A)"
  done
  cp "$dir/package/LICENSE" "$here/LICENSES/${spec%@*}.txt"
done
du -sh "$here"
