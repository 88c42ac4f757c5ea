"""Benchmark: officer console action -> server -> the officer's own page updated.

Starts the real server (`qms serve`, demo centre) and headless Chromium on the console
(`/counter`, signed in at counter 1), issues tickets, then clicks "Gọi số tiếp theo"
again and again (each call finishes the previous ticket implicitly). For every click it
measures, inside the page (performance.now()):

* click -> DOM: until the ticket number on screen changed (drawn from the HTTP answer);
* click -> event: until the pushed `ticket.called` event for that ticket was applied
  by qms-live.js (Socket.IO, in seq order).

    .venv/bin/python bench/bench_console_latency.py [-n 300] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs import write_section  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))

from tools.testing import CHROMIUM_ARGS, LiveServer  # noqa: E402

SECTION = "## Counter"

HOOK = """() => {
  const live = window.qmsConsole.live, orig = live.onEvent;
  live.onEvent = function (evt) {
    orig(evt);
    if (evt.type === 'ticket.called' && evt.counter === 1 && window.__evt) {
      const done = window.__evt; window.__evt = null; done(performance.now());
    }
  };
}"""

MEASURE = """async () => {
  const el = document.getElementById('t-number'), before = el.textContent;
  const dom = new Promise(res => {
    const mo = new MutationObserver(() => {
      if (el.textContent !== before) { mo.disconnect(); res(performance.now()); }
    });
    mo.observe(el, {childList: true, characterData: true, subtree: true});
  });
  const evt = new Promise(res => { window.__evt = res; });
  const t0 = performance.now();
  document.getElementById('btn-next').click();
  const [a, b] = await Promise.all([dom, evt]);
  while (window.qmsConsole.state.busy) await new Promise(r => setTimeout(r, 1));
  return [a - t0, b - t0];
}"""


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[max(0, min(len(v) - 1, round(p / 100 * len(v) + 0.5) - 1))]


def run(n: int, warmup: int) -> dict:
    from playwright.sync_api import sync_playwright

    from server.setup import init_demo_centre

    tmp = Path(tempfile.mkdtemp(prefix="qms-bench-"))
    data = tmp / "data"
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            init_demo_centre(str(data))
        finally:
            sys.stdout = stdout
    server = LiveServer(data).start()
    try:
        kiosk = server.tokens["kiosk-1"]
        for _ in range(n + warmup + 1):
            server.post("/tickets", kiosk, {"team_id": 1})
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(server.url + "/counter?counter=1")
            page.fill("#username", "canbo01")
            page.fill("#password", "demo1234")
            page.fill("#counter-no", "1")
            page.click("#signin-form button[type=submit]")
            page.wait_for_function("window.qmsConsole.live && window.qmsConsole.live.seq !== null")
            page.wait_for_selector("#conn.ok")
            page.evaluate(HOOK)
            dom, evt = [], []
            for i in range(n + warmup):
                a, b = page.evaluate(MEASURE)
                if i >= warmup:
                    dom.append(a)
                    evt.append(b)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"dom": dom, "event": evt}


def summary(values: list[float]) -> dict:
    return {"p50": statistics.median(values), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values), "mean": statistics.fmean(values)}


def section(res: dict, n: int) -> str:
    rows = []
    for label, key in (("click → number on screen (HTTP answer)", "dom"),
                       ("click → pushed event applied (Socket.IO)", "event")):
        s = summary(res[key])
        rows.append(f"| {label} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | "
                    f"{s['max']:.1f} | {s['mean']:.1f} |")
    return f"""{SECTION}

`bench/bench_console_latency.py`: the officer's console (`/counter`, headless Debian
Chromium via Playwright, 1366×768) against the real server process (`qms serve`, gevent,
demo centre, SQLite in WAL mode) on 127.0.0.1. {n} clicks on "Gọi số tiếp theo" after 20
warm-up clicks; each call also finishes the previous ticket implicitly, so every click
writes two events. Measured inside the page with `performance.now()`. Machine: 2 cores,
Python {platform.python_version()}, shared with other jobs while measuring.

| per click (ms) | p50 | p95 | p99 | max | mean |
| --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Target: p99 ≤ 100 ms for action → server → the officer's own page updated. Re-run with
`.venv/bin/python bench/bench_console_latency.py --write`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    res = run(args.n, 20)
    text = section(res, args.n)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
