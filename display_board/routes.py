"""Web pages of the display area and the announcement audio endpoint.

- `/display` (`?team=` for one team's board): the hall board for a TV in Chromium kiosk
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

from server.api.helpers import int_arg, qms, requires
from server.api.openapi import op, query_param, register_paths
from server.boundary import ticket_read
from server.errors import NotFound, ValidationFailed

bp = Blueprint("display_board", __name__, template_folder="templates",
               static_folder="static", static_url_path="/board-static")

LANGS = ("vi", "en")
RECALL_PREFIX = {"vi": "Xin nhắc lại. ", "en": "Calling again: "}


# -- pages -----------------------------------------------------------------------------------
@bp.get("/display")
def display():
    team = request.args.get("team", type=int)
    resp = Response(render_template("display_board/display.html", team=team))
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
    resp = Response(render_template("display_board/ticket.html", t=view, token=token,
                                    centre=q.config.name))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


# -- announcement audio ----------------------------------------------------------------------
_composers: dict[tuple, object] = {}
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
    """One VoiceComposer per wording (rebuilt when centre.toml's wording changes)."""
    from display_board.voice import VoiceComposer

    key = (config.announcement_vi, config.announcement_en)
    with _composer_lock:
        comp = _composers.get(key)
        if comp is None:
            cache = os.environ.get("QMS_VOICE_CACHE") or str(Path(data_dir) / "voice-cache")
            comp = VoiceComposer(os.environ.get("QMS_VOICE_CLIPS") or None, cache,
                                 templates=_templates(config))
            _composers[key] = comp
        return comp


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

    try:
        audio = composer_for(q.config, q.data_dir).compose(number, counter_n, lang, recall,
                                                           repeat)
    except VoiceUnavailable as exc:
        current_app.logger.warning("announcement audio unavailable: %s", exc)
        return {"error": {"code": "voice_unavailable", "message": str(exc)}}, 503
    except ValueError as exc:  # the wording needs a part not given (e.g. no counter)
        raise ValidationFailed(str(exc), code="bad_announcement") from exc
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
        **op("The call announcement as a WAV (chime + sentence); wording from centre.toml",
             errors=(401, 403, 422, 503),
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
                         for c in (401, 403, 422, 503)}}}},
})
