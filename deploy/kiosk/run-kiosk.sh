#!/bin/sh
# The kiosk, restarted if it ever exits (a crash must never leave the citizens a desktop).
export KIVY_NO_ARGS=1
while true; do
  /opt/qms/.venv/bin/qms kiosk --config /etc/qms/kiosk.toml --fullscreen
  sleep 2
done
