"""The deployment files in deploy/ are real: every systemd unit's `qms` command line parses
with the real command line, the example settings load with the real loaders, and the nginx
configurations pass `nginx -t` (with a throw-away certificate, in a temporary folder)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from central.config import from_dict as central_from_dict
from qms.cli import build_parser
from sync.settings import load as load_sync
from tools.testing import ROOT

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def exec_start(unit: Path) -> list[str]:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(unit)
    return shlex.split(cp["Service"]["ExecStart"])


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_every_unit_runs_a_real_qms_command(unit):
    argv = exec_start(unit)
    assert argv[0] == "/opt/qms/.venv/bin/qms"
    args, extra = build_parser().parse_known_args(argv[1:])
    assert not extra or getattr(args, "passthrough", False), (unit.name, extra)
    assert callable(args.fn)


def test_units_cover_the_hall_and_the_province():
    names = {u.name for u in UNITS}
    assert {"qms-server.service", "qms-bridge.service", "qms-led.service",
            "qms-sync.service", "qms-central.service", "qms-backup.service"} <= names
    assert (DEPLOY / "systemd" / "qms-backup.timer").exists()
    for script in ("run-kiosk.sh", "run-board.sh"):
        path = DEPLOY / "kiosk" / script
        assert path.stat().st_mode & 0o111, script
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    assert "--kiosk" in (DEPLOY / "kiosk" / "run-board.sh").read_text()
    assert "--autoplay-policy=no-user-gesture-required" in \
        (DEPLOY / "kiosk" / "run-board.sh").read_text()


def test_example_settings_load(tmp_path):
    import tomllib

    cfg = central_from_dict(tomllib.loads((DEPLOY / "central.toml.example").read_text()))
    assert cfg.stale_after_min == 60
    shutil.copy(DEPLOY / "sync.toml.example", tmp_path / "sync.toml")
    s = load_sync(tmp_path)
    assert s.central.startswith("https://") and s.verify is True


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"),
                    reason="nginx or openssl not installed")
@pytest.mark.parametrize("name", ["qms-hall.conf", "qms-central.conf"])
def test_nginx_configurations_pass_nginx_t(tmp_path, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=test", "-keyout", str(tmp_path / "k.pem"), "-out",
                    str(tmp_path / "c.pem")], check=True, capture_output=True)
    site = (DEPLOY / "nginx" / name).read_text()
    for old in ("/etc/ssl/qms/hall.crt", "/etc/ssl/qms/central.crt"):
        site = site.replace(old, str(tmp_path / "c.pem"))
    for old in ("/etc/ssl/qms/hall.key", "/etc/ssl/qms/central.key"):
        site = site.replace(old, str(tmp_path / "k.pem"))
    site = site.replace("listen 80;", "listen 127.0.0.1:18080;").replace(
        "listen 443 ssl http2;", "listen 127.0.0.1:18443 ssl http2;")
    site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/site.conf;
}}
""")
    out = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p",
                          str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
