"""Real Redis and nginx for tests and benchmarks of several server processes: each started
on 127.0.0.1 on a free port, in a temporary folder, in the foreground (so it can be killed
and started again), never touching the machine's own services or configuration.

    redis = RedisServer(tmp).start()           # redis.url: redis://127.0.0.1:<port>/0
    nginx = Nginx(tmp, [5001, 5002]).start()   # nginx.url: http://127.0.0.1:<port>

Nginx's configuration is deploy/nginx/qms-multiprocess.conf itself, with the upstream ports
and the listen address substituted, wrapped in a main file whose pid, logs and temporary
folders are in `tmp`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .testing import ROOT, ChildProcess, free_port, port_open

NGINX_CONF = ROOT / "deploy" / "nginx" / "qms-multiprocess.conf"


def binary(name: str) -> str | None:
    """The path of a Debian server binary (redis-server, nginx), or None when absent."""
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.exists()),
        None)


class RedisServer(ChildProcess):
    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = self.folder / "redis.log"

    def start(self, timeout: float = 10) -> RedisServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [binary("redis-server") or "redis-server", "--port", str(self.port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no", "--dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_up(port_open(self.port), timeout, type(self).__name__)
        return self


class Nginx(ChildProcess):
    def __init__(self, folder: Path, upstream_ports: list[int], port: int | None = None,
                 conf: Path = NGINX_CONF, balance: str | None = None):
        """`balance`: replace the upstream's `least_conn;` (e.g. "ip_hash;")."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream_ports = upstream_ports
        self.conf_template = conf
        self.balance = balance
        self.log = self.folder / "error.log"

    def site_conf(self) -> str:
        """The shipped configuration with this run's ports."""
        text = self.conf_template.read_text()
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"
                          for p in self.upstream_ports)
        text, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n(?:    server 127\.0\.0\.1:"
                          r"\d+ [^\n]*\n)*", servers, text)
        assert n == 1, "upstream servers not found in the nginx configuration"
        text, n = re.subn(r"(?m)^    listen 80;", f"    listen 127.0.0.1:{self.port};", text)
        assert n == 1, "listen not found in the nginx configuration"
        if self.balance:
            text = re.sub(r"(?m)^    least_conn;", f"    {self.balance}", text)
        return text

    def write_conf(self) -> Path:
        f = self.folder
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (f / sub).mkdir(exist_ok=True)
        (f / "qms.conf").write_text(self.site_conf())
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = f"""{user}worker_processes 1;
pid {f}/nginx.pid;
error_log {self.log} warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {f}/body;
    proxy_temp_path {f}/proxy;
    fastcgi_temp_path {f}/fastcgi;
    uwsgi_temp_path {f}/uwsgi;
    scgi_temp_path {f}/scgi;
    include {f}/qms.conf;
}}
"""
        path = f / "nginx.conf"
        path.write_text(main)
        return path

    def start(self, timeout: float = 10) -> Nginx:
        conf = self.write_conf()
        with (self.folder / "nginx.out").open("ab") as out:
            self.proc = subprocess.Popen(
                [binary("nginx") or "nginx", "-p", str(self.folder), "-e", str(self.log),
                 "-c", str(conf), "-g", "daemon off;"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_up(port_open(self.port), timeout, type(self).__name__)
        return self
