#!/usr/bin/env bash
# Refresh the vendored GraphiQL assets in this directory from the npm registry.
#
# Strawberry's GraphiQL page (strawberry/static/graphiql.html) loads these files from
# https://unpkg.com/<package>@<version>/<path>; claimsdb serves them itself at
# /graphql/static/<package>@<version>/<path> (api/app.py), so this directory mirrors
# unpkg's layout and the page works without internet access.
#
# Usage:  api/static/graphiql/fetch.sh            (needs npm and the npm registry, not unpkg)
#
# To update: when Strawberry's graphiql.html starts pointing at other versions, change ASSETS
# below to the exact URLs' package@version and paths, run this script, update README.md, and
# run tests/test_graphiql_assets.py (it checks every asset the page references is served and
# matches the page's integrity hash).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# "<package>@<version> <path inside the package> [<path> ...]", one package per line.
ASSETS=(
  "graphiql@3.8.3 graphiql.min.js graphiql.min.css"
  "react@18.2.0 umd/react.production.min.js"
  "react-dom@18.2.0 umd/react-dom.production.min.js"
  "js-cookie@3.0.5 dist/js.cookie.min.js"
  "@graphiql/plugin-explorer@1.0.2 dist/index.umd.js dist/style.css"
)

# Packages that ship no LICENSE file of their own: "<package>@<version> <license source>".
# @graphiql/plugin-explorer lives in the graphql/graphiql monorepo (MIT, the same LICENSE as
# the graphiql package); its UMD bundle also includes graphiql-explorer (MIT).
LICENSE_FROM=(
  "@graphiql/plugin-explorer@1.0.2 graphiql@3.8.3"
)
EXTRA_LICENSES=(
  "graphiql-explorer@0.9.0"  # bundled into @graphiql/plugin-explorer's dist/index.umd.js
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack <package@version> -> prints the unpacked package directory
  local spec="$1" dir tarball
  dir="$work/$(echo "$spec" | tr '/@' '__')"
  if [[ ! -d "$dir/package" ]]; then
    mkdir -p "$dir"
    tarball="$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)"
    tar -xzf "$dir/$tarball" -C "$dir"
  fi
  echo "$dir/package"
}

license_name() {  # "@graphiql/plugin-explorer@1.0.2" -> "graphiql-plugin-explorer"
  local name="${1%@*}"
  name="${name#@}"
  echo "${name//\//-}"
}

[[ "$(basename "$here")" == graphiql && -f "$here/fetch.sh" ]] || { echo "unexpected dir $here" >&2; exit 1; }
# Start from a clean tree: remove previously vendored packages and licenses, keep README/script.
find "$here" -mindepth 1 -maxdepth 1 \
  ! -name README.md ! -name fetch.sh -exec rm -rf {} +
mkdir -p "$here/LICENSES"

for line in "${ASSETS[@]}"; do
  read -r spec paths <<<"$line"
  pkg="$(unpack "$spec")"
  for path in $paths; do
    mkdir -p "$(dirname "$here/$spec/$path")"
    cp "$pkg/$path" "$here/$spec/$path"
    printf '%-60s sha384-%s\n' "$spec/$path" \
      "$(openssl dgst -sha384 -binary "$pkg/$path" | openssl base64 -A)"
  done
  if [[ -f "$pkg/LICENSE" ]]; then
    cp "$pkg/LICENSE" "$here/LICENSES/$(license_name "$spec").txt"
  fi
done

for line in "${LICENSE_FROM[@]}"; do
  read -r spec source <<<"$line"
  target="$here/LICENSES/$(license_name "$spec").txt"
  {
    echo "$spec ships no LICENSE file; its package.json says \"license\": \"MIT\" and it is"
    echo "published from the graphql/graphiql monorepo, whose LICENSE (as shipped in $source) is:"
    echo
    cat "$(unpack "$source")/LICENSE"
  } >"$target"
done

for spec in "${EXTRA_LICENSES[@]}"; do
  cp "$(unpack "$spec")/LICENSE" "$here/LICENSES/$(license_name "$spec").txt"
done

echo "Vendored into $here:"
du -sh "$here"
