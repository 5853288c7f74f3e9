#!/bin/sh
# Build, once per machine, the virtualenv of the real Home Assistant core that the tests start
# on loopback (tests/ha_harness.py; docs/homeassistant.md, "Tests"). It lives outside the
# repository and outside HOME: $ROUTEB_HA_VENV, else /var/tmp/routeb-ha-venv. Home Assistant
# needs Python >= 3.13: $ROUTEB_HA_PYTHON, else pyenv's 3.13.x. Prints the venv's path.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ROUTEB_HA_VENV:-/var/tmp/routeb-ha-venv}"
reqs="$here/ha-requirements.txt"
stamp="$venv/.routeb-requirements"
if [ -x "$venv/bin/hass" ] && [ -f "$stamp" ] && cmp -s "$reqs" "$stamp"; then
    echo "$venv"
    exit 0
fi
python="${ROUTEB_HA_PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.13.*/bin/python3.13 \
        /usr/bin/python3.13 /usr/local/bin/python3.13; do
        if [ -x "$candidate" ]; then python="$candidate"; break; fi
    done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 13))'; then
    echo "ha-venv: no Python >= 3.13 found (set ROUTEB_HA_PYTHON)" >&2
    exit 3
fi
mkdir -p "$(dirname "$venv")"
# Several test runs (or agents) may ask at once: one builds, the others wait for it.
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/hass" ] && [ -f "$stamp" ] && cmp -s "$reqs" "$stamp"; then
    echo "$venv"
    exit 0
fi
# Built in place (a venv records its own path); the stamp, written last, marks it complete.
rm -rf "$venv"
"$python" -m venv "$venv" >&2
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" \
    >"$venv/.pip.log" 2>&1; then
    cat "$venv/.pip.log" >&2
    exit 1
fi
cp "$reqs" "$stamp"
echo "$venv"
