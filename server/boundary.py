"""The request boundary: what every HTTP request passes before a route sees its data.

- **Size**: a body larger than its limit (`server/limits.py`: 64 KB, the catalogue import
  20 MB) is refused with 413 `payload_too_large` from its Content-Length, before anything
  is read; a streamed (chunked) body is cut off at the same limit while it is read.
- **JSON**: `parse_body()` (behind `server.api.helpers.body()`) is the one JSON parse of the
  server. It refuses invalid UTF-8, invalid JSON, NaN/Infinity, nesting deeper than
  `MAX_DEPTH` and lone surrogates (`"\\ud800"`) with 400 `bad_json`; text longer than its
  field's cap with 422 `text_too_long`; and strips control characters from every text.
- **Query strings**: every value is held to the same caps and cleaned the same way.
- **Who is asking**: `client_address()` is the address every limiter counts by. It honours
  `X-Forwarded-For` only when the request comes from a configured trusted proxy
  (`TRUSTED_PROXIES`, env `QMS_TRUSTED_PROXIES`: addresses or networks, comma-separated).
- **Ticket guesses**: `ticket_read()` never limits a read of a ticket that exists (phones
  behind the hall Wi-Fi's NAT share one address); it limits unknown tokens per address.

Errors are the server's usual `{"error": {"code", "message"}}` with a Vietnamese message
(English in parentheses).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from flask import Flask, current_app, g, jsonify, request
from flask.sessions import SessionInterface
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from . import limits
from .errors import BadRequest, NotFound, PayloadTooLarge, TooManyRequests, ValidationFailed

T = TypeVar("T")

# -- text ------------------------------------------------------------------------------------
# C0 controls, DEL, C1 controls, and the bidirectional marks and embedding/override/isolate
# controls (which can make text on a page read differently from what is stored).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str, multiline: bool = False) -> str:
    """`text` without control characters: NUL, ESC (`ESC p` opens a cash drawer on an
    ESC/POS printer), DEL, the C1 range, bidi marks and overrides (U+200E/F, U+202A-202E,
    U+2066-2069) and lone surrogates are removed; tabs and line breaks become a space, or
    with `multiline` line breaks become "\\n".

    The procedure importer calls it on every text field of a catalogue row, as the
    boundary does on every JSON text and query value."""
    if not isinstance(text, str):
        return text
    if multiline:
        text = _LINE_BREAKS.sub("\n", text).replace("\t", " ")
        return _CONTROL.sub(lambda m: "\n" if m.group() == "\n" else "", text)
    return _CONTROL.sub("", _SPACES.sub(" ", text))


def has_surrogate(text: str) -> bool:
    return bool(_SURROGATE.search(text))


# -- errors ----------------------------------------------------------------------------------
def too_large(limit: int) -> PayloadTooLarge:
    size = limits.format_size(limit)
    return PayloadTooLarge(f"Nội dung gửi lên quá lớn, tối đa {size} "
                           f"(request body too large, at most {size})",
                           details={"max_bytes": limit})


def bad_json(vi: str, en: str) -> BadRequest:
    return BadRequest(f"{vi} ({en})", code="bad_json")


def too_long(name: str, cap: int) -> ValidationFailed:
    return ValidationFailed(f"Trường {name} dài quá {cap} ký tự "
                            f"({name}: at most {cap} characters)",
                            code="text_too_long", details={"field": name, "max": cap})


# -- JSON ------------------------------------------------------------------------------------
# A string (its closing quote optional, so an unterminated one ends the scan in linear time)
# or a bracket; used to measure nesting before the parser recurses into it.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.S)


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def parse_json(raw: bytes | str, endpoint: str | None = None,
               max_depth: int = limits.MAX_DEPTH):
    """Parse and clean a JSON document at the boundary (see the module docstring)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise bad_json("Nội dung không phải UTF-8", "body is not UTF-8") from exc
    else:
        text = raw
    if json_depth_exceeds(text, max_depth):
        raise bad_json(f"JSON lồng quá {max_depth} cấp", f"nested deeper than {max_depth}")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise bad_json("Nội dung không phải JSON hợp lệ", "invalid JSON") from exc
    return _clean_value(data, None, endpoint)


def _clean_value(value, name: str | None, endpoint: str | None):
    if isinstance(value, str):
        return _clean_field(value, name, endpoint)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if len(key) > limits.MAX_KEY_LENGTH:
                raise bad_json(f"Tên trường dài quá {limits.MAX_KEY_LENGTH} ký tự",
                               f"key longer than {limits.MAX_KEY_LENGTH}")
            if has_surrogate(key):
                raise bad_json("Văn bản có ký tự không hợp lệ", "lone surrogate in a key")
            out[clean_text(key)] = _clean_value(item, key, endpoint)
        return out
    if isinstance(value, list):
        return [_clean_value(item, name, endpoint) for item in value]
    return value


def _clean_field(text: str, name: str | None, endpoint: str | None) -> str:
    if has_surrogate(text):
        raise bad_json("Văn bản có ký tự không hợp lệ",
                       f"lone surrogate in {name or 'a text'}")
    cap = limits.text_cap(name, endpoint)
    if len(text) > cap:
        raise too_long(name or "text", cap)
    return clean_text(text, multiline=name in limits.MULTILINE_FIELDS)


def parse_body() -> dict:
    """The request's JSON object, parsed and cleaned once: {} for an empty body."""
    if "qms_body" in g:
        return g.qms_body
    limit = request.max_content_length or limits.MAX_BODY
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise too_large(limit) from exc
    if request.content_length is None and len(raw) >= limit:
        # a streamed (chunked) body is read up to the limit and no further: it did not end
        raise too_large(limit)
    if not raw:
        data = {}
    else:
        if not request.is_json:
            raise bad_json("Nội dung phải là JSON (Content-Type: application/json)",
                           "body must be JSON")
        data = parse_json(raw, request.endpoint)
        if not isinstance(data, dict):
            raise bad_json("Nội dung phải là một đối tượng JSON", "body must be a JSON object")
    g.qms_body = data
    return data


# -- query strings ---------------------------------------------------------------------------
def clean_args(args: ImmutableMultiDict) -> ImmutableMultiDict:
    """Query parameters held to the text caps, without control characters."""
    out, changed = [], False
    for key, value in args.items(multi=True):
        if len(key) > limits.MAX_KEY_LENGTH:
            raise ValidationFailed(f"Tham số dài quá {limits.MAX_KEY_LENGTH} ký tự "
                                   f"(query parameter name too long)", code="text_too_long")
        cap = limits.text_cap(key, request.endpoint)
        if len(value) > cap:
            raise too_long(key, cap)
        clean_key, clean_value = clean_text(key), clean_text(value)
        changed = changed or (clean_key, clean_value) != (key, value)
        out.append((clean_key, clean_value))
    return ImmutableMultiDict(out) if changed else args


# -- who is asking ---------------------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` as networks: a list or a comma/space-separated string of addresses
    or CIDR networks ("127.0.0.1, 10.0.0.0/8"); empty = trust no proxy."""
    if not value:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    try:
        return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items)
    except ValueError as exc:
        raise ValueError(f"TRUSTED_PROXIES: {exc}") from exc


def _ip(text: str):
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _trusted(ip, networks) -> bool:
    return ip is not None and any(ip in net for net in networks)


@dataclass
class Boundary:
    """Per-app state of the boundary: the parsed trusted proxies and the guess limiter."""

    guesses: limits.RateLimiter | limits.RedisRateLimiter
    _proxies_raw: object = None
    _proxies: tuple = field(default_factory=tuple)

    def proxies(self, raw) -> tuple[Network, ...]:
        if raw != self._proxies_raw:  # config changed (tests, admin): parse again
            self._proxies, self._proxies_raw = parse_networks(raw), raw
        return self._proxies


def boundary() -> Boundary:
    return current_app.extensions["qms_boundary"]


def client_address() -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right, as
    each proxy appends the address it saw; entries left of it are the client's own claims)."""
    remote = request.remote_addr or "?"
    networks = boundary().proxies(current_app.config.get("TRUSTED_PROXIES"))
    if not networks or not _trusted(_ip(remote), networks):
        return remote
    hops = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
    address = remote
    for hop in reversed(hops[-32:]):
        if not hop.strip():
            continue
        ip = _ip(hop)
        if ip is None:  # garbage from the client: keep what the last trusted proxy saw
            break
        address = str(ip)
        if not _trusted(ip, networks):
            break
    return address


# -- ticket guesses --------------------------------------------------------------------------
def ticket_read(token: str, read: Callable[[str], T]) -> T:
    """`read(token)` for a citizen's ticket. A token that exists is never rate limited; an
    unknown one (NotFound) is a guess, counted per client address: 429 over the limit."""
    if 20 <= len(token) <= limits.TICKET_TOKEN_MAX:
        try:
            return read(token)
        except NotFound as exc:
            if exc.code != "unknown_ticket":
                raise
    if not boundary().guesses.hit(client_address()):
        raise TooManyRequests("Tra cứu quá nhiều số không tồn tại, vui lòng thử lại sau "
                              "1 phút (too many unknown ticket look-ups)")
    raise NotFound("Không tìm thấy số này (unknown ticket)", code="unknown_ticket")


# -- the hooks -------------------------------------------------------------------------------
def _check_request() -> None:
    limit = limits.BODY_LIMITS.get(request.endpoint or "",
                                   current_app.config.get("MAX_CONTENT_LENGTH")
                                   or limits.MAX_BODY)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)  # from the header alone: not one byte of the body is read
    if request.args:
        request.args = clean_args(request.args)


def _skip_drain(environ: dict) -> None:
    """After a 413 the connection is closed; gevent's server would otherwise read (and throw
    away) the rest of the refused body first, however long. Let it read a little only, so
    a client still sending sees the answer instead of a reset."""
    stream = environ.get("wsgi.input")
    try:
        if getattr(stream, "chunked_input", False):
            stream.chunked_input = False
            stream.content_length = stream.position
        elif isinstance(getattr(stream, "content_length", None), int):
            stream.content_length = min(stream.content_length,
                                        stream.position + limits.DRAIN_AFTER_REFUSAL)
    except (AttributeError, TypeError):  # not gevent's input: nothing to do
        pass


def _after(response):
    if response.status_code == 413 or request.content_length is None and (
            request.headers.get("Transfer-Encoding", "").lower() == "chunked"):
        # a streamed body may never end: close instead of reading what is left
        response.headers["Connection"] = "close"
        _skip_drain(request.environ)
    elif response.status_code == 429:
        response.headers.setdefault("Retry-After", str(limits.TICKET_GUESS_WINDOW_S))
    return response


def _too_large(_err):  # werkzeug's own 413 (a form or stream read past the limit)
    err = too_large(request.max_content_length or limits.MAX_BODY)
    return jsonify(err.body()), err.status


class NoCookieSessions(SessionInterface):
    """The server keeps no state in cookies: people sign in with bearer tokens and the
    console's token lives in the page, so Flask's signed-cookie session is never read or
    set. Opening it anyway (a signing serializer built per request) was ~2 % of a
    command's CPU (issue #14); `flask.session` is now an empty null session that refuses
    writes, so nothing can start relying on a cookie by accident."""

    def open_session(self, app, request):
        return None  # Flask makes a null session

    def save_session(self, app, session, response):
        return None


def install(app: Flask) -> None:
    """Hook the boundary into `app` (called by `create_app`)."""
    app.session_interface = NoCookieSessions()
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = limits.MAX_BODY
    parse_networks(app.config.get("TRUSTED_PROXIES"))  # a bad setting stops the start
    app.extensions["qms_boundary"] = Boundary(limits.rate_limiter(
        int(app.config.get("TICKET_GUESSES") or limits.TICKET_GUESSES),
        limits.TICKET_GUESS_WINDOW_S, name="ticket-guess", url=app.config.get("REDIS_URL"),
        namespace=app.config.get("REDIS_NAMESPACE") or "qms"))
    app.before_request(_check_request)
    app.after_request(_after)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
