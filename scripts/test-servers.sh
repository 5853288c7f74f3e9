#!/bin/sh
# The real servers the tests start on loopback: Mosquitto (MQTT), PostgreSQL (fleet store),
# InfluxDB 1.x and VictoriaMetrics (the InfluxDB sink), Chromium (dashboard, driven by
# Playwright) and tmux (a real terminal for `routeb watch`). Install the missing ones with apt
# when we can (root or sudo), else say how. Nothing is started here: the tests start their own
# instances.
set -eu
need=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need="$need mosquitto"
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
    need="$need postgresql"
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v tmux >/dev/null 2>&1 || need="$need tmux"
# InfluxDB 1.x and VictoriaMetrics (the InfluxDB sink's line protocol, 1.x and 2.x endpoints).
[ -x /usr/bin/influxd ] || need="$need influxdb"
[ -x /usr/bin/victoria-metrics ] || need="$need victoria-metrics"
# A Japanese font, so that screenshots of the Japanese pages are legible.
[ -d /usr/share/fonts/opentype/noto ] || need="$need fonts-noto-cjk"
[ -z "$need" ] && exit 0
echo "the tests need:$need — installing with apt" >&2
if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
else
    echo "Please run as root: apt-get install$need   then make test again." >&2
    exit 1
fi
