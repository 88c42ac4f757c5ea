"""Web pages of the display area and the announcement audio endpoint.

- `/display` (`?team=` for one team's board, `?layout=counters` for one large row per open
  counter): the hall board for a TV in Chromium kiosk
  mode. An HTML shell: it authenticates in JS with a display device token
  (`?token=` or `#token=`, kept in localStorage) and is fed by `qms-live.js`.
- `/t/<token>`: a citizen's ticket on the phone (the QR code's target); rendered on the
  server so it shows at once on a slow phone, then kept live by a small inline script.
- `GET /api/v1/announcements/audio?number=&counter=&recall=&lang=`: the call
  announcement as a WAV (chime + sentence x `announce_repeat`), wording from centre.toml.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app, render_template, request

from common.vocabulary import CALL_TYPES
from server.api.helpers import int_arg, qms, requires
from server.api.openapi import op, query_param, register_paths
from server.boundary import ticket_read
from server.errors import NotFound, QMSError, ValidationFailed

bp = Blueprint("display_board", __name__, template_folder="templates",
               static_folder="static", static_url_path="/board-static")

LANGS = ("vi", "en")
LAYOUTS = ("hall", "counters")
RECALL_PREFIX = {"vi": "Xin nhắc lại. ", "en": "Calling again: "}


# -- pages -----------------------------------------------------------------------------------
@bp.get("/display")
def display():
    team = request.args.get("team", type=int)
    # the board's layout, chosen per TV in its URL: "hall" (default: last call, recent
    # calls, counters, waiting) or "counters" (one large row per open counter)
    layout = request.args.get("layout", "hall")
    if layout not in LAYOUTS:
        layout = "hall"
    resp = Response(render_template("display_board/display.html", team=team, layout=layout,
                                    tz=qms().config.timezone))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/t/<token>")
def citizen_ticket_page(token: str):
    q = qms()
    try:
        # never limited for a ticket that exists; unknown tokens are guesses (429 over the limit)
        view = ticket_read(token, q.service.citizen_view)
    except NotFound:
        return render_template("display_board/ticket_404.html", centre=q.config.name), 404
    except ValidationFailed as err:
        if err.code != "unknown_team":
            raise
        return _team_gone_page(q, token)
    resp = Response(render_template("display_board/ticket.html", t=view, token=token,
                                    centre=q.config.name))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


def _team_gone_page(q, token: str) -> Response:
    """The ticket exists but its team is no longer configured (deleted by an admin): the
    friendly page with the number and its status, and where to go, never a raw 422."""
    with q.store.read():
        ticket = q.store.ticket_by_token(token)
    if ticket is None:
        return Response(render_template("display_board/ticket_404.html", centre=q.config.name),
                        404)
    resp = Response(render_template("display_board/ticket_gone.html", number=ticket.number,
                                    status=ticket.status, centre=q.config.name))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# -- announcement audio ----------------------------------------------------------------------
_composers: dict[tuple, object] = {}
MAX_COMPOSERS = 4
_composer_lock = threading.Lock()


def _templates(config) -> dict:
    from display_board.announce import DEFAULT_TEMPLATES, AnnouncementTemplates

    out = dict(DEFAULT_TEMPLATES)
    for lang, call in (("vi", config.announcement_vi), ("en", config.announcement_en)):
        if call and call != DEFAULT_TEMPLATES[lang].call:
            out[lang] = AnnouncementTemplates(call, RECALL_PREFIX[lang] + call,
                                              DEFAULT_TEMPLATES[lang].number_style)
    return out


def composer_for(config, data_dir: Path):
    """One VoiceComposer per wording and cache folder (rebuilt when centre.toml's wording
    changes). Its caches are capped (display_board/voice.py: 200 files / 64 MB on disk,
    64 entries / 16 MB in memory); at most MAX_COMPOSERS composers are kept."""
    from display_board.voice import VoiceComposer

    cache = os.environ.get("QMS_VOICE_CACHE") or str(Path(data_dir) / "voice-cache")
    key = (cache, config.announcement_vi, config.announcement_en)
    with _composer_lock:
        comp = _composers.get(key)
        if comp is None:
            comp = VoiceComposer(os.environ.get("QMS_VOICE_CLIPS") or None, cache,
                                 templates=_templates(config))
            while len(_composers) >= MAX_COMPOSERS:  # old wordings: drop the oldest
                _composers.pop(next(iter(_composers)))
            _composers[key] = comp
        return comp


# Only what can really be announced is rendered: a configured counter and a number called or
# recalled to it today (at most this many of the site's latest calls are looked at; the board
# asks for the audio as soon as the call is pushed).
RECENT_CALLS = 500


def _called_today(q, number: int, counter: int | None) -> bool:
    """Whether `number` was called or recalled today to `counter` (to any counter when the
    wording has no counter). Read-only: the day's call events in the store."""
    service = q.service
    since = service.day_start(service.today())
    sites = [q.config.counter(counter).site] if counter is not None else list(q.config.sites)
    with q.store.read():
        for site in sites:
            for evt in q.store.recent_events(site, CALL_TYPES, since, RECENT_CALLS):
                ticket = evt.get("ticket") or {}
                if ticket.get("number") == number and (counter is None
                                                       or evt.get("counter") == counter):
                    return True
    return False


def _storage_full(exc: BaseException) -> QMSError:
    from server import health

    health.storage_full("announcement audio", exc)
    return QMSError(health.STORAGE_FULL_MESSAGE, code="storage_full", status=507)


@bp.get("/api/v1/announcements/audio")
@requires("state.read")
def announcement_audio():
    q = qms()
    number = int_arg("number", -1, 0, 999_999)
    if number < 0:
        raise ValidationFailed("number is required", code="missing_number")
    counter = request.args.get("counter")
    counter_n = int_arg("counter", 0, 0, 9999) if counter not in (None, "") else None
    recall = request.args.get("recall", "0").lower() in ("1", "true", "yes")
    lang = request.args.get("lang", "vi")
    if lang not in LANGS:
        raise ValidationFailed(f"lang must be one of {', '.join(LANGS)}", code="bad_lang")
    repeat = max(1, int(q.config.announce_repeat or 1))
    from display_board.audio import VoiceUnavailable
    from server import health

    composer = composer_for(q.config, q.data_dir)
    try:  # the wording first: it may need a part not given (e.g. no counter)
        composer.announcement(number, counter_n, lang, recall)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="bad_announcement") from exc
    if counter_n is not None and counter_n not in {c.number for c in q.config.counters}:
        raise NotFound(f"Không có quầy số {counter_n} (unknown counter)", code="unknown_counter")
    if not _called_today(q, number, counter_n):
        where = f" đến quầy {counter_n}" if counter_n is not None else ""
        raise NotFound(f"Số {number} chưa được gọi{where} hôm nay, không có gì để đọc "
                       "(no such call today)", code="unknown_call")
    try:
        audio = composer.compose(number, counter_n, lang, recall, repeat)
    except VoiceUnavailable as exc:
        current_app.logger.warning("announcement audio unavailable: %s", exc)
        return {"error": {"code": "voice_unavailable", "message": str(exc)}}, 503
    except ValueError as exc:  # the wording needs a part not given (e.g. no counter)
        raise ValidationFailed(str(exc), code="bad_announcement") from exc
    except OSError as exc:
        if health.is_storage_full(exc):
            raise _storage_full(exc) from exc
        raise
    if composer.cache_full:  # rendered in memory; the cache could not be written
        health.storage_full("announcement audio cache", composer.cache_error)
    etag = hashlib.sha1(audio.wav).hexdigest()[:20]
    if request.if_none_match.contains(etag):
        return Response(status=304)
    resp = Response(audio.wav, mimetype="audio/wav")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, max-age=86400"
    resp.headers["X-Announcement-Text"] = quote(audio.text)
    return resp


register_paths({
    "/api/v1/announcements/audio": {"get": {
        **op("The call announcement as a WAV (chime + sentence); wording from centre.toml. "
             "Only a number called or recalled today to that (configured) counter: 404 "
             "otherwise; 507 `storage_full` when the disk is full",
             errors=(401, 403, 404, 422, 503, 507),
             params=[query_param("number", {"type": "integer", "minimum": 0}, required=True),
                     query_param("counter", {"type": "integer", "minimum": 0}),
                     query_param("recall", {"type": "boolean"}),
                     query_param("lang", {"type": "string", "enum": list(LANGS)})]),
        "responses": {"200": {"description": "WAV audio",
                              "content": {"audio/wav": {"schema": {
                                  "type": "string", "format": "binary"}}}},
                      "304": {"description": "Not modified (ETag)"},
                      **{str(c): {"description": "error", "content": {"application/json": {
                          "schema": {"$ref": "#/components/schemas/Error"}}}}
                         for c in (401, 403, 404, 422, 503, 507)}}}},
})
