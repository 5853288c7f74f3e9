#!/bin/sh
# The codec's C fast paths under AddressSanitizer and UndefinedBehaviorSanitizer: build
# _speedups.c with both into a scratch copy of the sources, then run tests/test_speedups.py
# (the million-input differential fuzz included) against it. `make asan`; a few minutes.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/src" "$root/tests" "$root/pyproject.toml" "$work/"
rm -f "$work"/src/routeb/echonet/_speedups*.so
include="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
suffix="$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
    -fPIC -shared -I"$include" "$work/src/routeb/echonet/_speedups.c" \
    -o "$work/src/routeb/echonet/_speedups$suffix"
cd "$work"
# pymalloc hides heap errors from ASan; the interpreter's own leaks are not ours to report.
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc PYTHONPATH="$work/src:$work" \
ROUTEB_REQUIRE_SPEEDUPS=1 \
    "$py" -m pytest -q -p no:cacheprovider tests/test_speedups.py -m "slow or not slow" --timeout=3600 \
    --capture=no  # a sanitizer report goes to stderr as the process dies: let it through
