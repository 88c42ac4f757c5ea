"""The report worker: heavy reports and exports outside the serving process (issue #14).

A report (a year by procedure: 0.4 s) or an export (a quarter's journeys as XLSX: tens of
seconds) is Python holding the GIL; run in the serving process it froze every request and
socket of the hall. Under gevent (`qms serve`) the server starts one worker process
(`python -m server.reports.worker --data-dir D`) on first use, with its own read
connections, and talks to it by JSON lines over its stdin/stdout:

- `{"id", "op": "report", "spec"}` → `{"id", "ok": <report>}` or `{"id", "error": {...}}`
- `{"id", "op": "export", "job", "spec", "fmt", "heading"}`: the worker writes the file to
  `<data>/exports/<job>.<fmt>` and the job's state (status, progress 0-100, rows, file
  name, error) to `<data>/exports/<job>.json` as it goes; answers when done.

The worker also runs the report writer (`ReportEngine.refresh`, folding the event log into
journeys and aggregates) in a process of its own (forked at start): it checks `behind()`
every `REFRESH_EVERY_S` and folds, in short write transactions that never wait for a GIL
held by an export, so the serving process spends nothing on it. Reports and exports each
have their own thread and `Store` (a long export never delays a report); they wait, reading
only, until the writer has caught up.

Without gevent (tests driving the app in-process, the threading mode) everything runs in
the process as before (`server.reports.refresher`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

log = logging.getLogger("qms.reports.worker")

EXTENSION = "qms.report_worker"  # where create_app puts the WorkerClient (app.extensions)
REFRESH_EVERY_S = 1.0
REPORT_TIMEOUT_S = 120.0
EXPORT_TIMEOUT_S = 1800.0
JOB_KEEP_S = 24 * 3600  # finished export files are removed after a day
EXPORTS_DIR = "exports"


# -- what both sides share ---------------------------------------------------------------------
def compute(eng, spec: dict):
    """One report from a spec (name, from, to, by, site, precision): the same answer
    in-process and in the worker, with the words a person reads (`labels.label_report`:
    procedure and site names, Vietnamese dates)."""
    from .labels import label_report

    return label_report(spec["name"], _compute(eng, spec), eng.store, eng.config)


def _compute(eng, spec: dict):
    name = spec["name"]
    d0, d1 = date.fromisoformat(spec["from"]), date.fromisoformat(spec["to"])
    site, precision = spec.get("site"), spec.get("precision", "auto")
    if name in ("summary", "satisfaction"):
        default = "team" if name == "summary" else "officer"
        return eng.summary(d0, d1, spec.get("by") or default, site, precision)
    if name == "heatmap":
        return eng.heatmap(d0, d1, site, precision)
    if name == "occupancy":
        return eng.occupancy(d0, d1, site, precision)
    if name == "priority":
        return eng.priority(d0, d1, site, precision)
    if name == "low-ratings":
        return eng.low_ratings(d0, d1, site)
    if name == "monthly":
        return eng.monthly(d0, d1, site, precision)
    if name == "journeys":
        return eng.journeys(d0, d1, site)
    if name == "steps":
        return eng.steps(d0, d1, site)
    raise KeyError(name)


def export_file(eng, spec: dict, fmt: str, heading: list[str] | None, out: Path,
                progress=lambda done, total, phase: None) -> int:
    """Write one report as CSV or XLSX to `out` (via a temporary name); returns the rows."""
    from . import exports

    progress(0, 0, "reading")
    data = compute(eng, spec)
    tabs = exports.tables(spec["name"], data)
    total = sum(len(t[2]) for t in tabs)
    progress(0, total, "writing")
    tmp = out.with_name(out.name + ".part")
    if fmt == "csv":
        exports.write_csv(tabs[0], tmp, lambda n: progress(n, total, "writing"))
    else:
        exports.write_xlsx(tabs, heading, tmp, lambda n: progress(n, total, "writing"))
    os.replace(tmp, out)
    return total


def exports_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / EXPORTS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_state(data_dir: Path, job: str) -> dict | None:
    if not job.isalnum():
        return None
    path = exports_dir(data_dir) / f"{job}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_job(data_dir: Path, job: str, state: dict) -> None:
    path = exports_dir(data_dir) / f"{job}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def new_job(data_dir: Path, spec: dict, fmt: str, filename: str) -> dict:
    job = secrets.token_hex(12)
    state = {"id": job, "status": "queued", "progress": 0, "phase": "queued", "rows": None,
             "report": spec["name"], "format": fmt, "filename": filename, "error": None,
             "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_job(data_dir, job, state)
    return state


def prune_jobs(data_dir: Path, keep_s: float = JOB_KEEP_S) -> None:
    cutoff = time.time() - keep_s
    for path in exports_dir(data_dir).iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


# -- the worker process -----------------------------------------------------------------------
class Worker:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.out_lock = threading.Lock()
        self.reports: queue.Queue = queue.Queue()
        self.exports: queue.Queue = queue.Queue()
        self._config = None
        self._config_mtime = None

    def config(self):
        from ..config import CONFIG_NAME, load

        mtime = (self.data_dir / CONFIG_NAME).stat().st_mtime
        if self._config is None or mtime != self._config_mtime:
            self._config, self._config_mtime = load(self.data_dir), mtime
        return self._config

    def engine(self, store):
        from .engine import ReportEngine

        return ReportEngine(store, self.config(), lambda: datetime.now(UTC))

    def store(self):
        from ..storage import DB_NAME, Store

        return Store(self.data_dir / DB_NAME)

    def send(self, msg: dict) -> None:
        line = json.dumps(msg, ensure_ascii=False, default=str)
        with self.out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def refresh_loop(self) -> None:
        """The report writer: its own process (forked by `run`), so that its write
        transactions never wait for the GIL behind an export or a report: a refresh starved
        of the GIL would hold SQLite's write lock for seconds, and every command of the
        hall would wait for it (measured: call-next p99 0.5 s during a CSV export, 5 s
        during an XLSX export, when the writer was a thread beside them)."""
        parent = os.getppid()
        store = self.store()
        while os.getppid() == parent:  # the worker died (SIGKILL): so do we
            try:
                eng = self.engine(store)
                if eng.behind():
                    eng.refresh()
            except Exception:  # noqa: BLE001 - keep folding on the next turn
                log.exception("report worker: refresh failed")
            time.sleep(REFRESH_EVERY_S)

    def catch_up(self, eng, timeout: float = 30.0) -> None:
        """Wait (reading only) until the report writer has folded the event log."""
        deadline = time.monotonic() + timeout
        while eng.behind() and time.monotonic() < deadline:
            time.sleep(0.1)

    def report_loop(self) -> None:
        store = self.store()
        while True:
            msg = self.reports.get()
            try:
                eng = self.engine(store)
                self.catch_up(eng)
                self.send({"id": msg["id"], "ok": compute(eng, msg["spec"])})
            except Exception as err:  # noqa: BLE001 - the caller gets the error
                self.send({"id": msg["id"], "error": error_body(err)})

    def export_loop(self) -> None:
        store = self.store()
        while True:
            msg = self.exports.get()
            job = msg["job"]
            state = job_state(self.data_dir, job) or {"id": job}
            state["pid"] = os.getpid()  # made here, not in the serving process
            last = [0.0]

            def progress(done, total, phase, last=last, state=state, job=job):
                now = time.monotonic()
                if phase == "writing" and done and now - last[0] < 0.25:
                    return
                last[0] = now
                pct = 5 if phase == "reading" else 10 + int(89 * done / total) if total else 10
                state.update(status="running", phase=phase, progress=pct, rows=total or None)
                write_job(self.data_dir, job, state)

            try:
                eng = self.engine(store)
                self.catch_up(eng)
                out = exports_dir(self.data_dir) / f"{job}.{msg['fmt']}"
                rows = export_file(eng, msg["spec"], msg["fmt"], msg.get("heading"), out,
                                   progress)
                state.update(status="done", phase="done", progress=100, rows=rows)
                write_job(self.data_dir, job, state)
                self.send({"id": msg["id"], "ok": state})
            except Exception as err:  # noqa: BLE001 - the job records the error
                log.exception("export %s failed", job)
                state.update(status="failed", error=error_body(err)["error"])
                write_job(self.data_dir, job, state)
                self.send({"id": msg["id"], "error": error_body(err)})
            prune_jobs(self.data_dir)

    def run(self) -> int:
        import multiprocessing

        writer = multiprocessing.get_context("fork").Process(
            target=self.refresh_loop, name="qms-report-writer", daemon=True)
        writer.start()  # before any thread of ours exists
        try:  # reports and exports yield the CPU to the serving process (not the writer,
            os.nice(10)  # whose short write transactions the hall's commands wait for)
        except OSError:
            pass
        for fn in (self.report_loop, self.export_loop):
            threading.Thread(target=fn, daemon=True, name=fn.__name__).start()
        for line in sys.stdin:  # the server closed the pipe (or died): we end too
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            (self.exports if msg.get("op") == "export" else self.reports).put(msg)
        return 0


def error_body(err: Exception) -> dict:
    from ..errors import QMSError

    if isinstance(err, QMSError):
        return {**err.body(), "status": err.status}
    if isinstance(err, KeyError):
        return {"error": {"code": "bad_report", "message": f"unknown report {err}"},
                "status": 400}
    return {"error": {"code": "report_failed",
                      "message": f"report failed: {type(err).__name__}: {err}"},
            "status": 500, "trace": traceback.format_exc()[-2000:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m server.reports.worker")
    ap.add_argument("--data-dir", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="report-worker %(levelname)s %(message)s")
    return Worker(Path(args.data_dir)).run()


# -- the serving process's side -------------------------------------------------------------------
class WorkerError(Exception):
    def __init__(self, body: dict):
        super().__init__(body.get("error", {}).get("message", "report worker failed"))
        self.body = body


class WorkerClient:
    """The serving process's handle on its report worker (gevent only): requests go down
    the child's stdin, a reader greenlet hands each answer to the greenlet waiting on it
    (`AsyncResult`): the waiting never holds the loop. The child is (re)started on demand."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.proc: subprocess.Popen | None = None
        self.pending: dict = {}
        self._lock = None
        self._n = 0

    def _ensure(self) -> subprocess.Popen:
        import gevent
        from gevent.lock import RLock

        if self._lock is None:
            self._lock = RLock()
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                return self.proc
            root = Path(__file__).resolve().parents[2]
            env = {k: v for k, v in os.environ.items() if k != "QMS_ASYNC_MODE"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root),
                                                             env.get("PYTHONPATH")]))
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.reports.worker", "--data-dir",
                 str(self.data_dir)], cwd=root, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1)
            gevent.spawn(self._reader, self.proc)
            return self.proc

    def start(self) -> None:
        self._ensure()

    def _reader(self, proc) -> None:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            waiting = self.pending.pop(msg.get("id"), None)
            if waiting is not None:
                waiting[0].set(msg)
        # the worker ended: whoever waits on it gets an error (the next call restarts it)
        for key in [k for k, w in self.pending.items() if w[1] is proc]:
            self.pending.pop(key)[0].set({"error": {"error": {
                "code": "report_worker_gone", "message": "the report worker stopped"},
                "status": 503}})

    def call(self, msg: dict, timeout: float) -> dict:
        from gevent.event import AsyncResult

        proc = self._ensure()
        self._n += 1
        msg = {**msg, "id": self._n}
        waiter = AsyncResult()
        self.pending[msg["id"]] = (waiter, proc)
        with self._lock:
            proc.stdin.write(json.dumps(msg, ensure_ascii=False, default=str) + "\n")
            proc.stdin.flush()
        try:
            answer = waiter.get(timeout=timeout)
        except Exception:
            self.pending.pop(msg["id"], None)
            raise
        if "error" in answer:
            raise WorkerError(answer["error"])
        return answer["ok"]

    def report(self, spec: dict):
        return self.call({"op": "report", "spec": spec}, REPORT_TIMEOUT_S)

    def export(self, job: str, spec: dict, fmt: str, heading, wait: bool = False):
        """Queue an export job; with `wait`, return when it is done."""
        if not wait:
            import gevent

            gevent.spawn(self._export_quietly, job, spec, fmt, heading)
            return None
        return self.call({"op": "export", "job": job, "spec": spec, "fmt": fmt,
                          "heading": heading}, EXPORT_TIMEOUT_S)

    def _export_quietly(self, job, spec, fmt, heading) -> None:
        try:
            self.export(job, spec, fmt, heading, wait=True)
        except Exception as err:  # noqa: BLE001 - the job file records the failure
            log.warning("export job %s failed", job, exc_info=True)
            state = job_state(self.data_dir, job)
            if state is not None and state["status"] != "failed":
                state.update(status="failed", error={"code": "report_failed",
                                                     "message": str(err)})
                write_job(self.data_dir, job, state)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


if __name__ == "__main__":
    sys.exit(main())
