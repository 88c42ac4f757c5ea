"""What a simulated day produced, read back from the server's event log: legal event
sequences per ticket, counts, wait and service times (in simulated time), the display
client's view, and the summary as text, Markdown or HTML."""

from __future__ import annotations

import html
import json
from datetime import datetime

from common.vocabulary import CALL_TYPES

from .profiles import clock_text

CALL_TYPES_LOGGED = CALL_TYPES

# ticket state -> event type -> next state (legal moves of the queue rules)
MOVES = {
    None: {"ticket.issued": "waiting"},
    "waiting": {"ticket.called": "called", "ticket.cancelled": "cancelled"},
    "called": {"ticket.recalled": "called", "ticket.started": "serving",
               "ticket.finished": "done", "ticket.no_show": "no_show",
               "ticket.transferred": "waiting", "ticket.step_moved": "waiting"},
    "serving": {"ticket.finished": "done", "ticket.transferred": "waiting",
                "ticket.step_moved": "waiting"},
    "done": {"ticket.rated": "rated"},
    "no_show": {"ticket.called": "called"},
    "rated": {},
    "cancelled": {},
}


def fetch_events(api, since: int) -> list[dict]:
    """Every event after `since`, following `more` pages."""
    out: list[dict] = []
    while True:
        page = api.get(f"/events?since={since}&limit=5000")
        out.extend(page["items"])
        if not page["items"] or not page.get("more"):
            return out
        since = page["items"][-1]["seq"]


def check_sequences(events: list[dict], ticket_ids: set[int] | None = None) -> dict[int, str]:
    """Tickets whose events (in seq order) break the queue's rules: id -> what was wrong."""
    state: dict[int, str | None] = {}
    bad: dict[int, str] = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        tid = e.get("ticket_id")
        if tid is None or (ticket_ids is not None and tid not in ticket_ids) or tid in bad:
            continue
        if not e["type"].startswith("ticket."):  # booking.checked_in names its ticket too
            continue
        now = state.get(tid)
        nxt = MOVES.get(now, {}).get(e["type"])
        if nxt is None:
            bad[tid] = f"{e['type']} (seq {e['seq']}) after {now or 'nothing'}"
        else:
            state[tid] = nxt
    return bad


def _ts(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(events: list[dict], ticket_ids: set[int], *, speed: float, start_s: int,
              real_start: float, teams: dict[int, str]) -> dict:
    """Counts and times per team (by the team the ticket was issued for); durations are
    the server's real durations times `speed`, i.e. simulated seconds."""
    per: dict[int, dict] = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        tid = e.get("ticket_id")
        if tid not in ticket_ids:
            continue
        t = per.setdefault(tid, {"team": e.get("team_id"), "recalls": 0, "transfers": 0})
        kind, at = e["type"], _ts(e["at"])
        if kind == "ticket.issued":
            t["issued"] = at
        elif kind == "ticket.called":
            t.setdefault("called", at)
            t["last_called"] = at
        elif kind == "ticket.recalled":
            t["recalls"] += 1
        elif kind == "ticket.started":
            t["started"] = at
        elif kind == "ticket.finished":
            t["finished"] = at
            t["end"] = "done"
        elif kind == "ticket.no_show":
            t["end"] = "no_show"
        elif kind == "ticket.transferred":
            t["transfers"] += 1
            t.pop("started", None)
        elif kind == "ticket.step_moved":  # on to the next step of its visit (issue #15)
            t.pop("started", None)
        elif kind == "ticket.cancelled":
            t["end"] = "cancelled"
        elif kind == "ticket.rated":
            t["rating"] = e.get("score")
    rows = {tid: {"name": name, "issued": 0, "served": 0, "no_show": 0, "transferred": 0,
                  "waits": [], "services": []} for tid, name in teams.items()}
    ratings = {4: 0, 3: 0, 2: 0, 1: 0}
    hours: dict[int, int] = {}
    all_waits, all_services, recalls = [], [], 0
    for t in per.values():
        if "issued" not in t:
            continue
        row = rows.setdefault(t["team"], {"name": f"Tổ {t['team']}", "issued": 0, "served": 0,
                                          "no_show": 0, "transferred": 0, "waits": [],
                                          "services": []})
        row["issued"] += 1
        hour = int((start_s + (t["issued"] - real_start) * speed) // 3600)
        hours[hour] = hours.get(hour, 0) + 1
        recalls += t["recalls"]
        row["transferred"] += 1 if t["transfers"] else 0
        if "called" in t:
            w = (t["called"] - t["issued"]) * speed
            row["waits"].append(w)
            all_waits.append(w)
        if t.get("end") == "done":
            row["served"] += 1
            s = (t["finished"] - t.get("started", t["last_called"])) * speed
            row["services"].append(s)
            all_services.append(s)
        elif t.get("end") == "no_show":
            row["no_show"] += 1
        if t.get("rating") in ratings:
            ratings[t["rating"]] += 1
    team_rows = []
    for tid in sorted(rows):
        r = rows[tid]
        team_rows.append({"id": tid, "name": r["name"], "issued": r["issued"],
                          "served": r["served"], "no_show": r["no_show"],
                          "transferred": r["transferred"],
                          "wait_mean_s": round(mean(r["waits"])),
                          "wait_p90_s": round(pct(r["waits"], 0.9)),
                          "service_mean_s": round(mean(r["services"]))})
    issued = sum(r["issued"] for r in team_rows)
    rated = sum(ratings.values())
    return {
        "issued": issued, "served": sum(r["served"] for r in team_rows),
        "no_show": sum(r["no_show"] for r in team_rows),
        "transferred": sum(r["transferred"] for r in team_rows),
        "not_finished": sum(1 for t in per.values() if "issued" in t and "end" not in t),
        "recalls": recalls, "ratings": ratings, "rated": rated,
        "rating_mean": round(sum(k * v for k, v in ratings.items()) / rated, 2) if rated else 0,
        "wait_mean_s": round(mean(all_waits)), "wait_p90_s": round(pct(all_waits, 0.9)),
        "wait_max_s": round(max(all_waits, default=0)),
        "service_mean_s": round(mean(all_services)),
        "service_p90_s": round(pct(all_services, 0.9)),
        "teams": team_rows, "by_hour": {f"{h:02d}:00": n for h, n in sorted(hours.items())},
    }


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def text(summary: dict) -> str:
    s = summary
    lines = [
        f"Mô phỏng / simulation: {s['profile']} ({s['day_load']}), seed {s['seed']}, "
        f"{clock_text(s['start_s'])}–{clock_text(s['end_s'])}, x{s['speed']:g}, "
        f"{s['real_s']:.1f} s real, {s['devices']} counter(s) on keypads",
        f"  issued {s['issued']}  served {s['served']}  no-shows {s['no_show']}  "
        f"transferred {s['transferred']}  not finished {s['not_finished']}  "
        f"recalls {s['recalls']}",
        f"  wait mean {minutes(s['wait_mean_s'])} min  p90 {minutes(s['wait_p90_s'])} min  "
        f"max {minutes(s['wait_max_s'])} min;  service mean "
        f"{minutes(s['service_mean_s'])} min  p90 {minutes(s['service_p90_s'])} min",
        f"  ratings {s['rated']} (mean {s['rating_mean']}): "
        + ", ".join(f"{k}★ {v}" for k, v in s["ratings"].items()),
        "  team                                         issued served no-show  wait  p90  serv",
    ]
    for r in s["teams"]:
        lines.append(f"  {r['id']} {r['name'][:42]:<42} {r['issued']:>6} {r['served']:>6} "
                     f"{r['no_show']:>7} {minutes(r['wait_mean_s']):>5} "
                     f"{minutes(r['wait_p90_s']):>4} {minutes(r['service_mean_s']):>5}")
    d = s["display"]
    lines.append(f"  display: {d['calls_seen']}/{d['calls_logged']} calls shown, "
                 f"{'in' if d['in_order'] else 'NOT in'} seq order (missed {d['missed']}; "
                 f"{d['pushed']} pushes, {d['overtaken']} overtaken, "
                 f"{d['caught_up']} caught up); loop lag max {s['lag_max_s']} s")
    lines += visit_lines(s.get("visit"))
    lines.append(f"  illegal event sequences: {len(s['illegal'])}; errors: {len(s['errors'])}")
    return "\n".join(lines)


def visit_lines(v: dict | None) -> list[str]:
    """The whole visit (issue #15): bookings and how they ended, CCCD scans, steps."""
    if not v:
        return []
    outcomes = ", ".join(f"{k} {n}" for k, n in sorted(v["outcomes"].items())) or "none"
    refused = ", ".join(f"{k} {n}" for k, n in sorted(v["not_booked"].items()))
    clock = "simulated clock" if v.get("simulated_clock") else "server on the wall clock"
    return [f"  bookings {v['booked']} ({clock}; planned on time {v['planned']['on_time']}, "
            f"late {v['planned']['late']}, never {v['planned']['never']}; "
            f"{v['by_cccd']} checked in by CCCD): {outcomes}"
            + (f"; not booked: {refused}" if refused else ""),
            f"  CCCD walk-ins {v['cccd_walk_ins']}, second tries {v['second_tries']} "
            f"(refused person_limit {v['person_limit']}); visits of several steps "
            f"{v['several_steps']}"]


def _rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    head = ["Tổ (team)", "Số phát (issued)", "Đã phục vụ (served)", "Vắng (no-show)",
            "Chuyển (transferred)", "Chờ TB (mean wait, min)", "Chờ P90 (min)",
            "Phục vụ TB (service, min)"]
    body = [[f"{r['id']}. {r['name']}", str(r["issued"]), str(r["served"]), str(r["no_show"]),
             str(r["transferred"]), minutes(r["wait_mean_s"]), minutes(r["wait_p90_s"]),
             minutes(r["service_mean_s"])] for r in summary["teams"]]
    return head, body


def markdown(summary: dict) -> str:
    s = summary
    head, body = _rows(s)
    out = [f"# Báo cáo mô phỏng ngày làm việc / Simulated day — {s['title']}", "",
           f"Hồ sơ (profile) `{s['profile']}`, tải (load) {s['day_load']}, seed {s['seed']}, "
           f"{clock_text(s['start_s'])}–{clock_text(s['end_s'])}, tốc độ x{s['speed']:g} "
           f"({s['real_s']:.1f} s thực).", "",
           "| Chỉ số (figure) | Giá trị (value) |", "| --- | ---: |"]
    for label, value in _figures(s):
        out.append(f"| {label} | {value} |")
    out += ["", "## Theo tổ / per team", "", "| " + " | ".join(head) + " |",
            "| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    out += ["", "## Số phát theo giờ / tickets by hour", "", "| Giờ (hour) | Số (tickets) |",
            "| --- | ---: |"]
    out += [f"| {h} | {n} |" for h, n in s["by_hour"].items()]
    out += ["", "## Kiểm tra / checks", "", *_checks(s), ""]
    return "\n".join(out)


def _figures(s: dict) -> list[tuple[str, str]]:
    return [("Số phát (issued)", str(s["issued"])), ("Đã phục vụ (served)", str(s["served"])),
            ("Vắng mặt (no-shows)", str(s["no_show"])),
            ("Chuyển tổ (transferred)", str(s["transferred"])),
            ("Gọi lại (recalls)", str(s["recalls"])),
            ("Chờ trung bình (mean wait)", f"{minutes(s['wait_mean_s'])} phút"),
            ("Chờ P90 (p90 wait)", f"{minutes(s['wait_p90_s'])} phút"),
            ("Chờ lâu nhất (max wait)", f"{minutes(s['wait_max_s'])} phút"),
            ("Phục vụ trung bình (mean service)", f"{minutes(s['service_mean_s'])} phút"),
            *_visit_figures(s.get("visit")),
            ("Đánh giá (ratings)", f"{s['rated']}, TB {s['rating_mean']} / 4 — "
             + ", ".join(f"{k}★ {v}" for k, v in s["ratings"].items()))]


def _visit_figures(v: dict | None) -> list[tuple[str, str]]:
    if not v:
        return []
    o = v["outcomes"]
    return [("Lịch hẹn (bookings)", f"{v['booked']}: đúng giờ (on time) {o.get('on_time', 0)}, "
             f"muộn (late) {o.get('late', 0)}, không đến (no-show) {o.get('expired', 0)}"),
            ("Quét CCCD (CCCD scans)", f"{v['cccd_walk_ins']} khách vãng lai (walk-ins); "
             f"{v['person_limit']}/{v['second_tries']} lượt lấy số thứ hai bị từ chối "
             f"(second numbers refused)"),
            ("Hồ sơ nhiều bước (visits of several steps)", str(v["several_steps"]))]


def _checks(s: dict) -> list[str]:
    d = s["display"]
    order = "đúng" if d["in_order"] else "SAI"
    out = [f"- Màn hình (display): hiển thị {d['calls_seen']}/{d['calls_logged']} lượt gọi, "
           f"{order} thứ tự seq (missed {d['missed']}; {d['pushed']} pushes, "
           f"{d['overtaken']} overtaken, {d['caught_up']} caught up).",
           f"- Chuỗi sự kiện sai quy tắc (illegal event sequences): {len(s['illegal'])}.",
           f"- Lỗi (errors): {len(s['errors'])}."]
    out += [f"  - ticket {tid}: {why}" for tid, why in list(s["illegal"].items())[:20]]
    out += [f"  - {e}" for e in s["errors"][:20]]
    return out


def render_html(summary: dict) -> str:
    s = summary
    e = html.escape
    head, body = _rows(s)
    figures = "".join(f"<tr><th>{e(a)}</th><td>{e(b)}</td></tr>" for a, b in _figures(s))
    teams = ("<tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in body))
    top = max(s["by_hour"].values(), default=1)
    bars = "".join(f"<tr><th>{h}</th><td><div class=bar style='width:{300 * n // top}px'>"
                   f"</div> {n}</td></tr>" for h, n in s["by_hour"].items())
    checks = "".join(f"<li>{e(c.strip(' -'))}</li>" for c in _checks(s))
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>Báo cáo mô phỏng — {e(s['title'])}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}td{{text-align:right}}
.bar{{display:inline-block;height:12px;background:#1769aa}}</style></head><body>
<h1>Báo cáo mô phỏng ngày làm việc</h1><p>Simulated day — {e(s['title'])}<br>
Hồ sơ <code>{e(s['profile'])}</code>, tải {e(str(s['day_load']))}, seed {s['seed']},
{clock_text(s['start_s'])}–{clock_text(s['end_s'])}, x{s['speed']:g}
({s['real_s']:.1f} s thực).</p>
<table>{figures}</table><h2>Theo tổ / per team</h2><table>{teams}</table>
<h2>Số phát theo giờ / tickets by hour</h2><table>{bars}</table>
<h2>Kiểm tra / checks</h2><ul>{checks}</ul>
<script type="application/json" id="summary">{e(json.dumps(s, ensure_ascii=False))}</script>
</body></html>"""


def write(path: str, summary: dict) -> None:
    if path.lower().endswith((".html", ".htm")):
        content = render_html(summary)
    elif path.lower().endswith(".json"):
        content = json.dumps(summary, ensure_ascii=False, indent=2)
    else:
        content = markdown(summary)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(content)
