#!/bin/sh
# The hall display board in Chromium kiosk mode. QMS_BOARD_URL: the board's address with its
# display token in the fragment, e.g. https://hall.example.gov.vn/display#token=d_... (the
# fragment never reaches the server or its logs; see docs/display.md).
. /etc/qms/board.env 2>/dev/null
URL="${QMS_BOARD_URL:-http://127.0.0.1:5000/display}"
xset s off -dpms 2>/dev/null   # no screen saver, no power saving
while true; do
  chromium --kiosk --noerrdialogs --disable-infobars --disable-session-crashed-bubble \
    --autoplay-policy=no-user-gesture-required --check-for-update-interval=31536000 \
    --disable-features=Translate --no-first-run "$URL"
  sleep 2
done
