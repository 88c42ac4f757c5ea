"""`qms demo`: the whole hall on one machine.

Starts the server on the demo centre, an emulated network ticket printer, an emulated LED
wall board driven by `qms display-led`, a simulated day (`qms simulate` with four counters
working through emulated keypads, the real counter bridge and rating pads) that starts
again when it ends, and the Kivy kiosk when a screen is available. Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tools.testing import free_port, port_free

ROOT = Path(__file__).resolve().parents[1]
#: the counters the demo's simulated day staffs: team 1's first four, a land counter (the
#: first step of a route) and the fee desk and result counter, so that bookings and visits
#: of several steps run all day and a newcomer's own land ticket is called at 22 and 23
SIMULATED_COUNTERS = "1-4,9,22,23"
WILDCARD = ("0.0.0.0", "::", "")


def lan_ip() -> str:
    """This machine's address on its LAN (the interface of the default route; nothing is
    sent), or 127.0.0.1 without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: a route is looked up, no packet leaves
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def public_url_for(host: str, port: int) -> str:
    """The address phones open from the QR codes: the LAN address when the server listens
    on every interface, else the address it listens on."""
    return f"http://{lan_ip() if host in WILDCARD else host}:{port}"


def set_public_url(data_dir: Path, url: str) -> None:
    """Point an existing demo centre's QR codes at `url` (centre.toml `public_url`)."""
    from server import config as centre_config

    cfg = centre_config.load(data_dir)
    if cfg.public_url != url:
        cfg.public_url = url
        cfg.save(Path(data_dir) / "centre.toml")


class Demo:
    def __init__(self, data_dir: Path, host: str, port: int, simulate: bool, kiosk: bool | None,
                 public_url: str | None = None):
        self.data_dir = data_dir
        self.host, self.port = host, port
        # the processes on this machine talk to the server here; phones use public_url
        self.url = f"http://{'127.0.0.1' if host in WILDCARD else host}:{port}"
        self.public_url = public_url or public_url_for(host, port)
        self.simulate = simulate
        self.kiosk = bool(os.environ.get("DISPLAY")) if kiosk is None else kiosk
        self.children: dict[str, subprocess.Popen] = {}
        self.logs = data_dir / "logs"
        self.stopping = False

    def spawn(self, name: str, *argv: str) -> subprocess.Popen:
        self.logs.mkdir(exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.children[name] = proc
        return proc

    def qms(self, name: str, *argv: str) -> subprocess.Popen:
        return self.spawn(name, "-m", "qms", "--data-dir", str(self.data_dir), *argv)

    def wait_http(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.children["server"].poll() is not None:
                raise RuntimeError(f"the server exited; see {self.logs / 'server.log'}")
            try:
                if requests.get(self.url + "/api/v1/openapi.json", timeout=0.5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the server did not start in 30 s")

    def start_dossier_emulator(self) -> None:
        """The province's one-stop system, emulated (tools/dossier_emulator.py), and the
        hall's `[dossier]` pointed at it before the server starts."""
        from tools.dossier_emulator import PREFIX, point_hall_at

        port = 8765 if port_free(8765) else free_port()
        self.dossier_url = f"http://127.0.0.1:{port}"
        # --pidfile names the data folder on its command line, like the demo's other processes
        self.spawn("dossier-emulator", "-m", "tools.dossier_emulator", "--port", str(port),
                   "--pidfile", str(self.data_dir / "dossier-emulator.pid"))
        ready = lambda: _http_ok(self.dossier_url + "/health")  # noqa: E731
        if not wait_for(ready, 10):
            raise RuntimeError("the dossier emulator did not start; see "
                               f"{self.logs / 'dossier-emulator.log'}")
        point_hall_at(self.data_dir, self.dossier_url + PREFIX)

    def start(self) -> None:
        tokens = json.loads((self.data_dir / "demo-tokens.json").read_text())
        self.start_dossier_emulator()
        self.qms("server", "serve", "--host", self.host, "--port", str(self.port))
        self.wait_http()
        printer_port = 9100 if port_free(9100) else free_port()
        self.spawn("printer", "-m", "hardware.emulators", "printer", "--port", str(printer_port),
                   "--save-dir", str(self.data_dir / "printed"))
        led_path = str(self.data_dir / "led-wall.pty")
        self.spawn("led-wall", "-m", "hardware.emulators", "ledboard", "--path", led_path)
        led_cfg = self.data_dir / "led.toml"
        led_cfg.write_text(
            f'server = "{self.url}"\ntoken = "{tokens["display-1"]}"\nsite = "main"\n\n'
            f'[bus]\nport = "{led_path}"\nbaudrate = 9600\n\n'
            '[[boards]]\naddress = 20\nlines = 4\ncolumns = 16\ntitle = "SO     QUAY"\n')
        wait_for(lambda: os.path.exists(led_path), 10)
        self.qms("display-led", "display-led", "--config", str(led_cfg))
        if self.simulate:
            self.start_simulation(seed=1)
        if self.kiosk:
            self.qms("kiosk", "kiosk", "--server", self.url, "--token", tokens["kiosk-1"],
                     "--printer", f"tcp://127.0.0.1:{printer_port}", "--profile", "TM-T20II")
        self.banner(tokens, printer_port)

    def start_simulation(self, seed: int) -> None:
        self.qms("simulate", "simulate", "--server", self.url, "--data-dir",
                 str(self.data_dir), "--speed", "60", "--devices", "4", "--counters",
                 SIMULATED_COUNTERS, "--seed", str(seed),
                 "--report", str(self.data_dir / "simulated-day.html"))

    def banner(self, tokens: dict, printer_port: int) -> None:
        u = self.url
        print(f"""
QMS-HCC demo centre is running (data in {self.data_dir}, logs in {self.logs}).

  phones on the LAN    {self.public_url}   (QR codes on tickets and pages point here)
  hall display board   {u}/display#token={tokens['display-1']}
  counter console      {u}/counter        canboNN / demo1234 at counter NN: 5-8 or 10-21
                       (counters 1-4 are driven by the simulated day, and 9 (land), 22 (fee)
                        and 23 (results): sign in at another one, e.g. canbo07 for land)
  rating tablet        {u}/rate/5         (sign in as the officer of counter 5)
  manager dashboard    {u}/manager        giamdoc / demo-manager
  admin                {u}/admin          admin / demo-admin
  API                  {u}/api/v1/openapi.json
  dossier lookup       {u}/tra-cuu       e.g. 000.00.12.H99-251104-0004 / E9PX4K (result ready)
                       (emulated one-stop system at {self.dossier_url}; all demo codes:
                        python -m tools.dossier_emulator --list)
  kiosk token          {tokens['kiosk-1']}
  ticket printer       emulated at tcp://127.0.0.1:{printer_port} (jobs in {self.data_dir}/printed)
  simulated day        {'running at 60x: tickets, bookings, CCCD scans, fee and result '
                        'steps, calls, keypads and ratings' if self.simulate else 'off'}
  the whole visit      book {self.public_url}/dat-lich, check in at the kiosk, README
                       "Try the whole visit"
  kiosk window         {'started' if self.kiosk else 'off (no $DISPLAY; run qms kiosk ...)'}

Press Ctrl-C to stop.
""", flush=True)

    def watch(self) -> int:
        seed = 1
        while not self.stopping:
            time.sleep(1)
            if self.children["server"].poll() is not None:
                print("the server stopped; see logs/server.log", file=sys.stderr)
                return 1
            sim = self.children.get("simulate")
            if sim is not None and sim.poll() is not None and not self.stopping:
                seed += 1  # the day is over: simulate another one
                self.start_simulation(seed)
        return 0

    def stop(self, *_args) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot cut the stop
        self.stopping = True
        for name in reversed(list(self.children)):
            proc = self.children[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.children.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).ok
    except requests.RequestException:
        return False


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def run(data_dir: Path, host: str, port: int, simulate: bool = True,
        kiosk: bool | None = None, public_url: str | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM: both end it cleanly with exit status 0 (the
    children stopped, no traceback); 1 only when something failed."""
    demo = Demo(data_dir, host, port, simulate, kiosk, public_url)
    signal.signal(signal.SIGTERM, demo.stop)
    code = 0
    try:
        demo.start()
        code = demo.watch()
    except KeyboardInterrupt:
        code = 0
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        code = 1
    finally:
        print("\nstopping the demo…", flush=True)
        demo.stop()
        print("demo stopped.", flush=True)
    return code
