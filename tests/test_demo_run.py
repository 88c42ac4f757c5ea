"""`qms demo` (issue #16, demo): `--public-url` points the QR codes at an address a phone on
the LAN can open, and Ctrl-C ends the demo and every process it started with exit status 0.
The real `qms demo` process (no simulated day, no kiosk window) on a copy of the demo centre."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import requests

from tools.demo_run import WILDCARD, lan_ip, public_url_for
from tools.testing import ROOT, bearer, free_port


def processes_on(data) -> list[int]:
    """The processes whose command line names the demo's data folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data) in cmd:
            found.append(int(pid))
    return found


def test_public_url_for_a_wildcard_host_is_the_lan_address():
    ip = lan_ip()
    assert ip not in WILDCARD and ip.count(".") == 3
    assert public_url_for("0.0.0.0", 5000) == f"http://{ip}:5000"
    assert public_url_for("127.0.0.1", 5001) == "http://127.0.0.1:5001"


def test_demo_public_url_and_ctrl_c(demo_template, tmp_path):
    data = tmp_path / "demo"
    shutil.copytree(demo_template, data)
    port = free_port()
    public = f"http://192.0.2.7:{port}"  # what a phone on the LAN would open
    proc = subprocess.Popen(
        [sys.executable, "-m", "qms", "--data-dir", str(data), "demo", "--host", "127.0.0.1",
         "--port", str(port), "--public-url", public, "--no-simulate", "--no-kiosk"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        banner = "".join(lines)
        assert "Press Ctrl-C" in banner, banner
        assert f"phones on the LAN    {public}" in banner
        assert "counters 1-4 are driven by the simulated day" in banner
        assert f'public_url = "{public}"' in (data / "centre.toml").read_text()
        kiosk = json.loads((data / "demo-tokens.json").read_text())["kiosk-1"]
        res = requests.post(f"http://127.0.0.1:{port}/api/v1/tickets", json={"team_id": 1},
                            headers=bearer(kiosk), timeout=10)
        assert res.status_code == 201, res.text
        assert res.json()["status_url"].startswith(f"{public}/t/")  # the ticket's QR code
        assert len(processes_on(data)) >= 4  # the demo, the server, the printer, the LED wall...
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "Traceback" not in rest and "demo stopped." in rest, rest
        time.sleep(0.5)
        assert not processes_on(data)  # every process it started has ended
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
