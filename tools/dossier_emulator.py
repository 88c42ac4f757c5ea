"""An emulator of a province's one-stop information system (hệ thống thông tin một cửa điện tử)
speaking the OpenCPS-style REST interface `server/dossiers/opencps.py` reads, for the demo and
the tests. It runs as a real process on 127.0.0.1:

    python -m tools.dossier_emulator --port 8765 [--mode normal|slow|down|drop|malformed|huge|list]

- `GET /o/rest/v2/dossiers/<dossierNo>`: the dossier as OpenCPS returns it, 404 when unknown;
- `GET /health`: 200 (never delayed, whatever the mode);
- `GET|POST /_control {"mode": ..., "delay_s": ...}`: the switches for tests (loopback only):
  `normal`; `slow` (every lookup waits `delay_s` seconds first, default 10); `down` (503);
  `drop` (the connection is closed without an answer); `malformed` (200 with an HTML page);
  `huge` (200 with 200 KB of JSON); `list` (OpenCPS's list form `{"total": 1, "data": [...]}`);
  also `{"status": {"<dossierNo>": "<OpenCPS status>"}}` moves a dossier on (the demo can make
  a result ready).

The demo dossiers (`DEMO_DOSSIERS`: every status, fixed codes and keys, listed in
docs/visit.md) are deterministic. The applicant names are made up; the hall's server never
shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tools.testing import ROOT, ChildProcess, free_port, http_ok

PREFIX = "/o/rest/v2"
AGENCY = "000.00.12.H99"          # a made-up agency code (no province has H99)
MODES = ("normal", "slow", "down", "drop", "malformed", "huge", "list")
MAX_CONTROL_BODY = 16 * 1024

#: (number of the day, date received, date due, OpenCPS status, key, procedure, applicant)
_ROWS = [
    ("0001", "251103", "251117", "receiving", "A7KM3P", "Đăng ký khai sinh", "Nguyễn Văn An"),
    ("0002", "251103", "251124", "processing", "C4RT9X",
     "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Trần Thị Bình"),
    ("0003", "251104", "251111", "waiting", "D6HJ7N", "Đăng ký thành lập hộ kinh doanh",
     "Lê Văn Cường"),
    ("0004", "251104", "251106", "releasing", "E9PX4K", "Cấp bản sao trích lục hộ tịch",
     "Phạm Thị Dung"),
    ("0005", "251105", "251105", "done", "F3WY6M",
     "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "Hoàng Văn Em"),
    ("0006", "251105", "251119", "denied", "H7TC3R", "Cấp đổi giấy phép lái xe",
     "Vũ Thị Phương"),
    ("0007", "251106", "251113", "releasing", "J4MV9A", "Đăng ký kết hôn", "Đặng Văn Giang"),
    ("0008", "251106", "251204", "paying", "K6NE7U",
     "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "Bùi Thị Hà"),
    ("0009", "251107", "251114", "cancelled", "M3XF4D", "Cấp phiếu lý lịch tư pháp",
     "Đỗ Văn Khánh"),
    ("0010", "251110", "251117", "new", "N9UA6W", "Đăng ký thường trú", "Ngô Thị Lan"),
    ("0011", "251110", "251113", "releasing", "P7CK3H",
     "Cấp giấy xác nhận tình trạng hôn nhân", "Dương Văn Minh"),
]
STATUS_TEXT = {"new": "Mới", "receiving": "Đã tiếp nhận", "processing": "Đang xử lý",
               "waiting": "Chờ bổ sung", "releasing": "Chờ trả kết quả",
               "done": "Đã trả kết quả", "denied": "Từ chối", "cancelled": "Đã hủy",
               "paying": "Chờ thanh toán", "handover": "Đang chuyển", "correcting": "Sửa đổi"}


def _opencps_date(yymmdd: str, hhmm: str) -> str:
    return f"{yymmdd[4:6]}/{yymmdd[2:4]}/20{yymmdd[:2]} {hhmm}:00"


def demo_dossiers() -> dict[str, dict]:
    """The demo dossiers as OpenCPS objects, by dossier code."""
    out = {}
    for serial, received, due, status, key, service, applicant in _ROWS:
        code = f"{AGENCY}-{received}-{serial}"
        out[code] = {
            "dossierId": 40000 + int(serial), "dossierNo": code, "dossierStatus": status,
            "dossierStatusText": STATUS_TEXT[status], "serviceName": service,
            "govAgencyName": "UBND phường Mẫu (dữ liệu mô phỏng)",
            "receiveDate": _opencps_date(received, "08:15"),
            "dueDate": _opencps_date(due, "17:00"), "password": key,
            "applicantName": applicant, "online": False}
    return out


DEMO_DOSSIERS = demo_dossiers()
#: code -> lookup key, for the docs and the tests
DEMO_KEYS = {code: d["password"] for code, d in DEMO_DOSSIERS.items()}


class State:
    def __init__(self, mode: str = "normal", delay_s: float = 10.0):
        self.mode, self.delay_s = mode, delay_s
        self.dossiers = demo_dossiers()
        self.lookups = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server_version = "OpenCPS-emulator/1.0"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> State:
        return self.server.state

    def log_message(self, fmt, *args):  # quiet: one line per request on stderr
        sys.stderr.write("dossier-emulator: " + (fmt % args) + "\n")

    def _send(self, status: int, payload, content_type="application/json; charset=utf-8"):
        raw = payload if isinstance(payload, bytes) else json.dumps(
            payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _control(self, data: dict | None):
        st = self.state
        with st.lock:
            if data:
                mode = data.get("mode", st.mode)
                if mode not in MODES:
                    return self._send(400, {"message": f"mode must be one of {MODES}"})
                st.mode = mode
                if isinstance(data.get("delay_s"), int | float):
                    st.delay_s = max(0.0, min(float(data["delay_s"]), 600.0))
                for code, status in (data.get("status") or {}).items():
                    if code in st.dossiers and status in STATUS_TEXT:
                        st.dossiers[code] = {**st.dossiers[code], "dossierStatus": status,
                                             "dossierStatusText": STATUS_TEXT[status]}
            answer = {"mode": st.mode, "delay_s": st.delay_s, "lookups": st.lookups}
        self._send(200, answer)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/health":
            return self._send(200, {"ok": True})
        if path == "/_control":
            return self._control(None)
        if not path.startswith(PREFIX + "/dossiers/"):
            return self._send(404, {"message": "Not found"})
        code = unquote(path[len(PREFIX + "/dossiers/"):])
        st = self.state
        with st.lock:
            st.lookups += 1
            mode, delay = st.mode, st.delay_s
            dossier = st.dossiers.get(code)
        if mode == "slow":
            time.sleep(delay)
        if mode == "down":
            return self._send(503, {"message": "Service Unavailable"})
        if mode == "drop":
            self.close_connection = True
            return
        if mode == "malformed":
            return self._send(200, b"<html><body>Bao tri he thong</body></html>",
                              "text/html; charset=utf-8")
        if mode == "huge":
            return self._send(200, {"dossierNo": code, "padding": "x" * 200_000})
        if dossier is None:
            return self._send(404, {"message": "Không tìm thấy hồ sơ"})
        if mode == "list":
            return self._send(200, {"total": 1, "data": [dossier]})
        self._send(200, dossier)

    def do_POST(self):
        if urlsplit(self.path).path != "/_control":
            return self._send(404, {"message": "Not found"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_CONTROL_BODY:
            return self._send(413, {"message": "too large"})
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"message": "invalid JSON"})
        self._control(data if isinstance(data, dict) else {})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that gave up (the hall's timeout in "slow" mode): one line, no traceback
        sys.stderr.write(f"dossier-emulator: {sys.exc_info()[1]!r} from {client_address}\n")


def serve(port: int, mode: str = "normal", delay_s: float = 10.0) -> None:
    signal.signal(signal.SIGTERM, _stop)  # SIGTERM ends serve_forever cleanly (pidfile removed)
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.state = State(mode, delay_s)
    print(f"dossier emulator on http://127.0.0.1:{port}{PREFIX} (mode {mode})", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def _stop(*_args) -> None:
    raise KeyboardInterrupt


class DossierEmulator(ChildProcess):
    """The emulator as a child process (tests, `qms demo`)."""

    def __init__(self, log: Path, port: int | None = None, mode: str = "normal"):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + PREFIX
        self.log, self.mode = Path(log), mode
        self.proc = None

    def start(self, timeout: float = 10) -> DossierEmulator:
        import subprocess

        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tools.dossier_emulator", "--port", str(self.port),
                 "--mode", self.mode], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.wait_up(http_ok(self.url + "/health"), timeout, "dossier emulator")
        return self

    def control(self, **switches) -> dict:
        import requests

        res = requests.post(self.url + "/_control", json=switches, timeout=5)
        res.raise_for_status()
        return res.json()


def point_hall_at(data_dir: Path, base_url: str, *, adapter: str = "emulator",
                  result_team: int | None = None, **settings) -> None:
    """Write `[dossier]` into the hall's centre.toml (before its server starts): the adapter
    at `base_url`, the result-return team (default: the demo centre's), other settings as
    given (timeout_s, rate_per_minute, cache_s, breaker_failures, breaker_open_s)."""
    from dataclasses import replace

    from server import config as centre_config

    cfg = centre_config.load(Path(data_dir))
    if result_team is None:
        result_team = next((t.id for t in cfg.teams if "trả kết quả" in t.name.lower()), 0)
    cfg.dossier = replace(cfg.dossier, adapter=adapter, base_url=base_url,
                          result_team=result_team, **settings)
    cfg.save()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--mode", choices=MODES, default="normal")
    ap.add_argument("--delay", type=float, default=10.0, help="seconds, for --mode slow")
    ap.add_argument("--list", action="store_true", help="print the demo codes and keys")
    ap.add_argument("--pidfile", type=Path, help="write this process's id here while it runs")
    args = ap.parse_args(argv)
    if args.list:
        for code, d in DEMO_DOSSIERS.items():
            print(f"{code}  {d['password']}  {d['dossierStatus']:<10}  {d['serviceName']}")
        return 0
    if args.pidfile:
        args.pidfile.write_text(f"{os.getpid()}\n")
    try:
        serve(args.port, args.mode, args.delay)
    finally:
        if args.pidfile:
            args.pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
