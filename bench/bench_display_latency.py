"""Display board latency: from a call-next request to the hall display page's DOM showing
the call, in a real browser (Debian Chromium via Playwright) against the real `qms serve`
process, with 200 other Socket.IO clients connected (bench/sio_crowd.py, another process).

The page itself sends the POST (so both ends are timed on the browser's clock) and a
MutationObserver notes when the new call's row is in `#calls`; "frame" adds the wait for
the next animation frame (what a viewer could see).

    .venv/bin/python -m bench.bench_display_latency [--calls 200] [--clients 200] [--write]

Results go to the "## Display board" section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM_ARGS, LiveServer  # noqa: E402

MEASURE = """
([url, token]) => new Promise((resolve) => {
  const calls = document.getElementById('calls');
  const before = calls.firstElementChild ? calls.firstElementChild.dataset.seq : null;
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    const li = calls.firstElementChild;
    if (!li || li.dataset.seq === before) return;
    obs.disconnect();
    const dom = performance.now() - t0;
    requestAnimationFrame(() => resolve([dom, performance.now() - t0]));
  });
  obs.observe(calls, {childList: true});
  fetch(url, {method: 'POST', headers: {'Authorization': 'Bearer ' + token}})
    .then((r) => { if (r.status !== 200) resolve([-1, -1]); });
})
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(calls: int, clients: int) -> dict:
    from playwright.sync_api import sync_playwright

    from server.cli import main as qms

    data = Path(tempfile.mkdtemp(prefix="qms-bench-display-")) / "data"
    qms(["--data-dir", str(data), "init", "--demo"])
    server = LiveServer(data).start()
    crowd = None
    try:
        tokens = server.tokens
        for _ in range(calls + 10):
            server.post("/tickets", tokens["kiosk-1"], {"team_id": 1})
        officers = {c: server.login(f"canbo{c:02d}", c) for c in range(1, 7)}
        if clients:
            crowd = subprocess.Popen([sys.executable, "-m", "bench.sio_crowd", server.url,
                                      tokens["display-1"], str(clients)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = crowd.stdout.readline()
            assert line.startswith("ready"), line
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{server.url}/display?sound=0#token={tokens['display-1']}")
            page.wait_for_function("window.qmsDisplay && window.qmsDisplay.live && "
                                   "window.qmsDisplay.live.seq !== null")
            dom, frame = [], []
            for i in range(calls):
                c = 1 + i % 6
                d, f = page.evaluate(MEASURE, [f"{server.url}/api/v1/counters/{c}/call-next",
                                               officers[c]])
                assert d >= 0, "call-next returned no ticket"
                if i >= 5:  # warm-up
                    dom.append(d)
                    frame.append(f)
            browser.close()
        received = None
        if crowd:
            out, _ = crowd.communicate("", timeout=30)
            received = int(out.split()[-1])
    finally:
        if crowd and crowd.poll() is None:
            crowd.kill()
        server.stop()
    return {"n": len(dom), "clients": clients, "received": received,
            "dom": {"p50": statistics.median(dom), "p99": pct(dom, 0.99), "max": max(dom),
                    "mean": statistics.fmean(dom)},
            "frame": {"p50": statistics.median(frame), "p99": pct(frame, 0.99),
                      "max": max(frame), "mean": statistics.fmean(frame)}}


def table(r: dict) -> str:
    rows = ["| call-next → display (ms) | p50 | p99 | max | mean |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in (("dom", "DOM updated"), ("frame", "next frame")):
        s = r[key]
        rows.append(f"| {label} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
                    f"{s['mean']:.1f} |")
    return "\n".join(rows)


def write_section(r: dict, extra: str = "") -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8")
    head = "## Display board"
    body = f"""{head}

`bench/bench_display_latency.py`: the hall display page (`/display`, 1920×1080, sound off) in
headless Debian Chromium against the real `qms serve` process (gevent), with {r['clients']}
other Socket.IO clients connected from another process (`bench/sio_crowd.py`; they received
{r['received']} events). The page sends each `POST /counters/<n>/call-next` itself and a
MutationObserver notes when the call's row appears; {r['n']} calls, one at a time, after 5
warm-up calls. Machine: {_machine()}.

{table(r)}

Target: p99 ≤ 50 ms. "next frame" adds the wait for the next animation frame (60 Hz).
{extra}Re-run with `.venv/bin/python -m bench.bench_display_latency --write`.
"""
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + body + (text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")


def _machine() -> str:
    import os

    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    r = run(args.calls, args.clients)
    print(table(r))
    print(f"{r['clients']} other clients received {r['received']} events")
    if args.write:
        write_section(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
