#!/bin/sh
# Reproduce the dashboard's vendored front-end assets from the npm registry.
#
#   scripts/vendor-assets.sh            # the pinned version below
#   UPLOT_VERSION=1.6.32 AXE_VERSION=4.10.3 scripts/vendor-assets.sh
#
# The dashboard makes no external network request: every script and stylesheet it uses is
# copied here, into the Python package (src/routeb/web/static/vendor/), with its licence.
set -eu

UPLOT_VERSION="${UPLOT_VERSION:-1.6.32}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/src/routeb/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null
tar -xzf "uplot-$UPLOT_VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/uPlot.iife.min.js "$DEST/uPlot.iife.min.js"
cp package/dist/uPlot.min.css "$DEST/uPlot.min.css"
cp package/LICENSE "$DEST/uPlot.LICENSE"
{
    echo "uplot $UPLOT_VERSION (npm), MIT licence: see uPlot.LICENSE"
    echo "sha256:"
    cd "$DEST" && sha256sum uPlot.iife.min.js uPlot.min.css
} > "$DEST/VERSIONS.txt"
echo "vendored uplot $UPLOT_VERSION into $DEST"

# axe-core for the browser tests' accessibility checks: test code, so into tests/, not the package.
AXE_VERSION="${AXE_VERSION:-4.10.3}"
TESTS="$ROOT/tests/vendor"
cd "$WORK"
npm pack --silent "axe-core@$AXE_VERSION" >/dev/null
tar -xzf "axe-core-$AXE_VERSION.tgz"
mkdir -p "$TESTS"
cp package/axe.min.js "$TESTS/axe.min.js"
cp package/LICENSE "$TESTS/axe-core.LICENSE"
{
    echo "axe-core $AXE_VERSION (npm), MPL-2.0 licence: see axe-core.LICENSE"
    echo "sha256:"
    cd "$TESTS" && sha256sum axe.min.js
} > "$TESTS/VERSIONS.txt"
echo "vendored axe-core $AXE_VERSION into $TESTS"
