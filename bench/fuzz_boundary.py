"""Fuzz the request boundary of the real server (`qms serve`): JSON depth, text fields and
query strings with random Unicode, lone surrogates and control characters.

Seeded random cases, each one request (a stored text: up to three, to read it back) to a
route that parses a body or a query (sign-in, tickets, device status, counter
pause/transfer/call-number, rating, procedure search, state, events, the phone page). Every answer must be < 500 with the JSON error body
on errors; a text the server stored and echoes back must be exactly what `clean_text` makes
of it (no control characters reach storage, pages or printers); the server's memory must
stay flat.

    .venv/bin/python bench/fuzz_boundary.py --cases 5000            # own demo server
    .venv/bin/python bench/fuzz_boundary.py --cases 5000 --write    # + docs/benchmarks.md
    .venv/bin/python bench/fuzz_boundary.py --server URL --tokens DATA/demo-tokens.json

The CI test (tests/test_boundary.py) runs a few hundred cases.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server import limits  # noqa: E402
from server.boundary import clean_text  # noqa: E402

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
TARGETS = ("depth", "text", "raw", "query")


# -- generators ------------------------------------------------------------------------------
def random_char(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.25:
        return chr(rng.choice([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0),
                               0x202E, 0x2066, 0x200F, 0x2028, 0x85]))
    if pick < 0.35:
        return chr(rng.randint(0xD800, 0xDFFF))  # a lone surrogate
    if pick < 0.55:
        return rng.choice("ăâđêôơưÁÀẢÃẠẤẦẨẪẬắằẳẵặếềểễệốồổỗộớờởỡợứừửữựĐ ")
    if pick < 0.65:
        return chr(rng.randint(0x10000, 0x10FFFF))  # astral (a valid surrogate pair)
    if pick < 0.75:
        return rng.choice('"\\/{}[],:')
    return chr(rng.randint(0x20, 0xFFFF) if rng.random() < 0.5 else rng.randint(0x20, 0x7E))


def random_text(rng: random.Random, cap: int) -> str:
    length = rng.choice([0, 1, rng.randint(2, 40), cap - 1, cap, cap + 1, cap * 3,
                         rng.randint(0, 2 * cap)])
    length = max(0, min(length, 8 * cap))
    if rng.random() < 0.3:  # mostly ordinary text with a few hostile characters
        text = list("Họp giao ban đột xuất tại phòng 2 " * (length // 34 + 1))[:length]
        for _ in range(rng.randint(1, 4)):
            if text:
                text[rng.randrange(len(text))] = random_char(rng)
        return "".join(text)
    return "".join(random_char(rng) for _ in range(length))


def random_json(rng: random.Random, depth: int):
    if depth <= 0:
        return rng.choice([1, -1.5, True, None, "x", random_text(rng, 8)])
    if rng.random() < 0.5:
        return [random_json(rng, depth - 1)]
    return {"k": random_json(rng, depth - 1)}


def nested_text(depth: int, rng: random.Random) -> str:
    """Nesting as text (any depth, no recursion in the generator)."""
    if rng.random() < 0.5:
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def dumps(value) -> bytes:
    """JSON with lone surrogates kept as escapes (what a hostile client sends)."""
    return json.dumps(value, ensure_ascii=True).encode()


def as_sent(text: str) -> str:
    """The text the server reads from `dumps(text)`: two escaped surrogates that make a
    pair are one (astral) character in JSON."""
    return json.loads(json.dumps(text))


# -- the run ---------------------------------------------------------------------------------
class BoundaryFuzz:
    def __init__(self, url: str, kiosk: str, officer: str, bridge: str | None = None,
                 seed: int = 0, pid: int | None = None):
        self.url, self.kiosk, self.officer, self.bridge = url, kiosk, officer, bridge
        self.rng = random.Random(seed)
        self.pid = pid
        self.session = requests.Session()
        self.failures: list[str] = []
        self.stats = {"cases": 0, "requests": 0, "by_target": Counter(), "statuses": Counter(),
                      "stored_texts_checked": 0, "refused_by_wsgi_server": 0}
        self.ticket_token: str | None = None

    # one request, checked
    def send(self, method: str, path: str, target: str, token: str | None = None,
             data: bytes | None = None, params=None, expect_echo: dict | None = None):
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            res = self.session.request(method, self.url + path, data=data, params=params,
                                       headers=headers, timeout=20)
        except requests.RequestException as exc:
            self.fail(target, method, path, data, f"no answer: {exc}")
            return None
        self.stats["requests"] += 1
        self.stats["statuses"][str(res.status_code)] += 1
        if res.status_code >= 500:
            self.fail(target, method, path, data, f"{res.status_code} {res.text[:200]}")
            return res
        if res.status_code == 414:
            # a request line over 8 KB: refused by gevent's WSGI server before the app
            self.stats["refused_by_wsgi_server"] += 1
        elif res.status_code >= 400 and path.startswith("/api/"):
            try:
                err = res.json()["error"]
                assert isinstance(err["code"], str) and isinstance(err["message"], str)
            except (ValueError, KeyError, TypeError, AssertionError):
                self.fail(target, method, path, data, f"{res.status_code} not a JSON error: "
                                                      f"{res.text[:200]}")
        if res.ok and res.headers.get("Content-Type", "").startswith("application/json"):
            self.check_clean(res.json(), target, method, path, data)
            for key, sent in (expect_echo or {}).items():
                got = res.json().get(key)
                want = clean_text(as_sent(sent), multiline=key in limits.MULTILINE_FIELDS)
                if not want:  # an empty text takes the route's default (e.g. "break")
                    continue
                self.stats["stored_texts_checked"] += 1
                if got != want:
                    self.fail(target, method, path, data, f"{key}: stored {got!r}, "
                                                          f"expected {want!r}")
        return res

    def check_clean(self, value, target, method, path, data) -> None:
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                if CONTROL.search(v):
                    self.fail(target, method, path, data, f"control character in answer: {v!r}")
                    return
            elif isinstance(v, dict):
                stack.extend(v.keys())
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)

    def fail(self, target, method, path, data, what) -> None:
        body = (data or b"")[:160]
        self.failures.append(f"[{target}] {method} {path} {body!r}: {what}")

    # targets
    def body_route(self) -> tuple[str, str | None, dict]:
        """A route that parses a JSON body, its token and a valid base body."""
        rng = self.rng
        return rng.choice([
            ("/api/v1/auth/login", None, {"username": "canbo99", "password": "x"}),
            ("/api/v1/tickets", self.kiosk, {"team_id": rng.choice([1, 2, 3])}),
            ("/api/v1/devices/status", self.kiosk, {"part": "printer", "online": True}),
            ("/api/v1/counters/1/pause", self.officer, {"reason": "họp"}),
            ("/api/v1/counters/1/transfer", self.officer, {"team_id": 3, "note": "ghi chú"}),
            ("/api/v1/counters/1/call-number", self.officer, {"number": 1001, "reason": "x"}),
            ("/api/v1/tickets/1/rating", self.bridge or self.officer, {"score": 4,
                                                                        "reason": "tốt"}),
        ])

    def case_depth(self) -> None:
        path, token, base = self.body_route()
        rng = self.rng
        depth = rng.choice([rng.randint(1, limits.MAX_DEPTH + 2), rng.randint(10, 200),
                            10_000, 30_000])
        if rng.random() < 0.5:
            raw = nested_text(depth, rng).encode()
            if rng.random() < 0.5:  # inside a field
                raw = b'{"x": ' + raw + b"}"
        else:
            value = random_json(rng, min(depth, 50))
            raw = dumps({**base, "x": value})
        self.send("POST", path, "depth", token, raw)

    def case_text(self) -> None:
        rng = self.rng
        kind = rng.random()
        if kind < 0.3:  # a pause reason: stored and shown on the counter's state
            self.send("POST", "/api/v1/counters/1/resume", "text", self.officer, b"{}")
            reason = random_text(rng, limits.text_cap("reason"))
            res = self.send("POST", "/api/v1/counters/1/pause", "text", self.officer,
                            dumps({"reason": reason}))
            if res is not None and res.ok:
                self.send("GET", "/api/v1/counters/1", "text", self.kiosk,
                          expect_echo={"reason": reason})
            return
        if kind < 0.55:  # a device part and detail: echoed as stored
            part = random_text(rng, limits.text_cap("part"))
            detail = random_text(rng, limits.text_cap("detail"))
            res = self.send("POST", "/api/v1/devices/status", "text", self.kiosk,
                            dumps({"part": part, "online": rng.random() < 0.5,
                                   "detail": detail}))
            if res is not None and res.ok:
                got = res.json()
                want = clean_text(as_sent(part)) or "device"
                self.stats["stored_texts_checked"] += 1
                if got.get("part") != want:
                    self.fail("text", "POST", "/api/v1/devices/status", None,
                              f"part stored {got.get('part')!r}, expected {want!r}")
            return
        path, token, base = self.body_route()
        body = dict(base)
        for key in list(body) + rng.sample(["note", "reason", "username", "password",
                                            "procedure_code", "channel", "priority",
                                            "detail", "part"], 2):
            if rng.random() < 0.6:
                body[key] = random_text(rng, limits.text_cap(key))
        if rng.random() < 0.2:
            body[random_text(rng, limits.MAX_KEY_LENGTH)] = "v"
        self.send("POST", path, "text", token, dumps(body))

    def case_raw(self) -> None:
        path, token, base = self.body_route()
        rng = self.rng
        raw = bytearray(dumps(base))
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            pos = rng.randrange(len(raw) + 1)
            if op < 0.4:
                raw[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif op < 0.6 and raw:
                del raw[pos:pos + rng.randint(1, 8)]
            elif op < 0.8:
                raw[pos:pos] = rng.choice([b"\xed\xa0\x80", b"\xff", b"NaN", b"1e999",
                                           b"\\ud800", b'"\\', b"\x00", b"\x1bp"])
            else:
                raw = raw[:pos]
        self.send("POST", path, "raw", token, bytes(raw))

    def case_query(self) -> None:
        rng = self.rng
        path, token, names = rng.choice([
            ("/api/v1/procedures", self.kiosk, ["q", "field", "limit"]),
            ("/api/v1/state", self.kiosk, ["site"]),
            ("/api/v1/events", self.kiosk, ["since", "limit", "site"]),
            ("/display", None, ["team"]),
            (f"/t/{self.ticket_token or 'x' * 32}", None, ["x"]),
            (f"/api/v1/tickets/{self.ticket_token or 'x' * 32}", None, ["x"]),
        ])
        params = {name: random_text(rng, limits.text_cap(name)).encode("utf-8", "surrogatepass")
                  for name in rng.sample(names, rng.randint(1, len(names)))}
        self.send("GET", path, "query", token, params=params)

    def setup(self) -> None:
        res = self.session.post(self.url + "/api/v1/tickets", json={"team_id": 1}, timeout=10,
                                headers={"Authorization": f"Bearer {self.kiosk}"})
        if res.ok:
            self.ticket_token = res.json().get("token")

    def rss_mb(self) -> float | None:
        if not self.pid:
            return None
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def run(self, cases: int, log=None) -> tuple[list[str], dict]:
        self.setup()
        t0 = time.monotonic()
        rss0 = self.rss_mb()
        runners = {"depth": self.case_depth, "text": self.case_text, "raw": self.case_raw,
                   "query": self.case_query}
        for i in range(cases):
            target = TARGETS[i % len(TARGETS)]
            runners[target]()
            self.stats["cases"] += 1
            self.stats["by_target"][target] += 1
            if log and (i + 1) % 1000 == 0:
                log(f"{i + 1} cases, {len(self.failures)} failures")
        self.stats["seconds"] = round(time.monotonic() - t0, 1)
        rss1 = self.rss_mb()
        if rss0 is not None and rss1 is not None:
            self.stats["rss_mb"] = [round(rss0), round(rss1)]
        self.stats["by_target"] = dict(self.stats["by_target"])
        self.stats["statuses"] = dict(sorted(self.stats["statuses"].items()))
        return self.failures, self.stats


def doc_section(cases: int, seed: int, stats: dict, failures: list[str]) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in stats["statuses"].items())
    rows = "\n".join(f"| {t} | {stats['by_target'].get(t, 0):,} |" for t in TARGETS)
    rss = stats.get("rss_mb")
    memory = (f" Server memory {rss[0]} MB before, {rss[1]} MB after." if rss else "")
    return (
        "## Fuzzing: request boundary\n\n"
        f"`.venv/bin/python bench/fuzz_boundary.py --cases {cases} --seed {seed}` (seeded "
        "random, the real `qms serve` process with the demo centre; machine: 2 cores, "
        "Python 3.11). Each case is one request (a stored text is then read back); every "
        "answer must be below 500 with the "
        "JSON error body on errors, no answer may carry a control character, and a text the "
        "server stored must read back as `clean_text` of what was sent. Limits under test: "
        "docs/security.md, \"Limits\".\n\n"
        "| target | cases |\n| --- | ---: |\n"
        f"{rows}\n\n"
        "depth: nesting from 1 to 30,000 levels (as text and inside fields) on sign-in, "
        "tickets, device status, pause, transfer, call-number and rating; text: random "
        "Unicode with C0/C1 controls, bidi overrides, lone surrogates and astral characters "
        "at lengths around each field's cap (pause reasons and device parts read back); raw: "
        "mutated bodies (invalid UTF-8, encoded surrogates, NaN, 1e999, truncation); query: "
        "the same texts in query strings of search, state, events, the board and the phone "
        "page.\n\n"
        f"{stats['cases']:,} cases ({stats['requests']:,} requests) in {stats['seconds']} s, "
        f"{len(failures)} failures, "
        f"{stats['stored_texts_checked']:,} stored texts read back. Statuses: {statuses}."
        f"{memory} Request lines over 8 KB ({stats['refused_by_wsgi_server']:,} here) are "
        "refused by gevent's WSGI server with a plain 414 before the app. The CI test "
        "(`tests/test_boundary.py`) runs 300 cases. For comparison, the code before the "
        "boundary (commit 5897a6f) failed 1,000 cases of seed 0 with 176 answers 500 "
        "(nesting on every route, lone surrogates in sign-in, tickets, device status and "
        "pause) and control characters stored and read back (pause reasons, device parts).\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server", help="a running server with the demo accounts "
                                     "(default: start a demo server)")
    p.add_argument("--tokens", help="with --server: its demo-tokens.json")
    p.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = p.parse_args(argv)
    from tools.testing import OFFICER_PASSWORD, LiveServer

    if args.server and not args.tokens:
        p.error("--server needs --tokens (the data folder's demo-tokens.json)")
    live = tmp = None
    url = args.server
    if not url:
        from server.setup import init_demo_centre

        tmp = Path(tempfile.mkdtemp(prefix="qms-fuzz-boundary-"))
        init_demo_centre(str(tmp))
        live = LiveServer(tmp).start()
        url = live.url
    try:
        if live:
            tokens, officer = live.tokens, live.login("canbo01", 1)
        else:
            tokens = json.loads(Path(args.tokens).read_text())
            officer = requests.post(url + "/api/v1/auth/login", timeout=10, json={
                "username": "canbo01", "password": OFFICER_PASSWORD,
                "counter": 1}).json()["token"]
        fuzz = BoundaryFuzz(url, tokens["kiosk-1"], officer, tokens.get("bridge-1"),
                            seed=args.seed, pid=live.proc.pid if live else None)
        failures, stats = fuzz.run(args.cases, log=print)
    finally:
        if live:
            live.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(stats, indent=2))
    for f in failures[:50]:
        print("FAIL", f)
    if args.write:
        from bench.docs import write_section

        write_section(doc_section(args.cases, args.seed, stats, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
