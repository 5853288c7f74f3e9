#!/bin/sh
# Create the virtualenv in $1. On a fresh Debian, python3 has no ensurepip until python3-venv
# is installed: install it with apt when we can (root or passwordless sudo), else say how.
set -eu
venv="${1:-.venv}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    exit 0
fi
rm -rf "$venv"
if python3 -m venv "$venv" 2>/dev/null; then
    exit 0
fi
rm -rf "$venv"
echo "python3 cannot create a virtualenv yet: installing python3-venv with apt" >&2
if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
else
    echo "Please run: apt-get install python3-venv   (as root), then make again." >&2
    exit 1
fi
python3 -m venv "$venv"
