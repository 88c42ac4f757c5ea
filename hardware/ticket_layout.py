"""The queue ticket: its content (`TicketPrint`), its layout, and how it becomes ESC/POS.

The layout is a list of blocks (text, rule, QR, feed) built once from a `TicketPrint`
and then emitted in one of two modes onto a python-escpos printer object (usually a
``Dummy`` that collects the job before it is transmitted, see `printer.py`):

* `emit_raster` — text blocks drawn with Pillow into 1-bit images (``GS v 0``);
* `emit_cp1258` — text in the printer's own font through its CP1258 table.

`render_preview` draws the whole ticket, QR included, as one image: what a raster
printer prints; used for screenshots, tests and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import qrcode
from escpos.constants import CODEPAGE_CHANGE, HW_INIT
from escpos.escpos import Escpos
from PIL import Image, ImageDraw

from common.text import nfc

from .escpos_vn import encode_cp1258, fit_font_size, render_lines, wrap_columns

LABELS = {
    "vi": {
        "number": "SỐ THỨ TỰ CỦA BẠN",
        "issued": "Giờ lấy số",
        "ahead": "Số người chờ trước bạn",
        "wait": "Thời gian chờ dự kiến",
        "scan": "Quét mã QR để theo dõi lượt gọi",
        "minutes": "phút",
        "hours": "giờ",
        "under_minute": "dưới 1 phút",
        "none": "không",
        "no_counter": "Hiện chưa có quầy mở cho thủ tục này",
    },
    "en": {
        "number": "YOUR NUMBER",
        "issued": "Issued",
        "ahead": "People ahead of you",
        "wait": "Estimated wait",
        "scan": "Scan the QR code to follow your turn",
        "minutes": "min",
        "hours": "h",
        "under_minute": "under 1 min",
        "none": "none",
        "no_counter": "No counter is open for this procedure yet",
    },
}


@dataclass
class TicketPrint:
    """Everything printed on one queue ticket (plain data, no queue logic)."""

    centre: str
    team: str
    number: str | int
    procedure: str = ""
    issued_at: datetime | None = None
    waiting_ahead: int | None = None
    estimated_wait_s: int | None = None
    status_url: str = ""
    footer: str = ""
    counters: str = ""
    note: str = ""  # e.g. a checked-in booking's slot: "Lịch hẹn 08:00–08:30" (issue #15)
    lang: str = "vi"
    no_counter_open: bool = False  # no counter of the team open: no wait can be promised


@dataclass
class Text:
    text: str
    size: str = "normal"  # small | normal | large | huge
    bold: bool = False
    align: str = "center"


@dataclass
class Rule:
    pass


@dataclass
class QR:
    url: str
    caption: str = ""


@dataclass
class Feed:
    lines: int = 1


@dataclass
class Layout:
    blocks: list = field(default_factory=list)


def format_wait(seconds: int | None, lang: str = "vi") -> str:
    """'~25 phút', '1 giờ 5 phút', 'dưới 1 phút'."""
    lab = LABELS.get(lang, LABELS["vi"])
    if seconds is None:
        return ""
    if seconds < 60:
        return lab["under_minute"]
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"~{minutes} {lab['minutes']}"
    hours, rest = divmod(minutes, 60)
    return f"~{hours} {lab['hours']}" + (f" {rest} {lab['minutes']}" if rest else "")


def ticket_blocks(t: TicketPrint) -> list:
    """The ticket's layout as blocks, in print order."""
    lab = LABELS.get(t.lang, LABELS["vi"])
    blocks: list = [Text(t.centre, "normal", bold=True)]
    if t.team:
        blocks.append(Text(t.team, "normal"))
    blocks += [Rule(), Text(lab["number"], "small"), Text(str(t.number), "huge", bold=True)]
    if t.procedure:
        blocks.append(Text(t.procedure, "normal", bold=True))
    if t.counters:
        blocks.append(Text(t.counters, "normal"))
    if t.note:
        blocks.append(Text(t.note, "normal", bold=True))
    blocks.append(Rule())
    if t.issued_at is not None:
        blocks.append(Text(f"{lab['issued']}: {t.issued_at:%H:%M %d/%m/%Y}", "normal", align="left"))
    if t.waiting_ahead is not None:
        ahead = str(t.waiting_ahead)  # "0", never "không": a number reads at a glance
        blocks.append(Text(f"{lab['ahead']}: {ahead}", "normal", align="left"))
    if t.no_counter_open:  # an honest line instead of a wait nobody can keep
        blocks.append(Text(lab["no_counter"], "normal", bold=True))
    elif t.estimated_wait_s is not None:
        wait = format_wait(t.estimated_wait_s, t.lang)
        blocks.append(Text(f"{lab['wait']}: {wait}", "normal", align="left"))
    if t.status_url:
        blocks.append(QR(t.status_url, lab["scan"]))
    if t.footer:
        blocks.append(Text(t.footer, "small"))
    return blocks


# --------------------------------------------------------------------------- geometry


def text_sizes(width_px: int) -> dict[str, int]:
    """Font pixel sizes for a paper width (384 dots = 58 mm, 576 dots = 80 mm)."""
    base = 22 if width_px <= 400 else 28
    return {"small": base - 4, "normal": base, "large": int(base * 1.5)}


def qr_module(width_px: int) -> int:
    return 5 if width_px <= 400 else 7


def qr_image(url: str, module: int) -> Image.Image:
    code = qrcode.QRCode(box_size=module, border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image().get_image().convert("1")


def _trim(img: Image.Image, pad: int = 4) -> Image.Image:
    """Drop blank rows above and below the ink (fewer bytes to send)."""
    box = Image.eval(img.convert("L"), lambda v: 255 - v).getbbox()
    if not box:
        return img
    top, bottom = max(0, box[1] - pad), min(img.height, box[3] + pad)
    return img.crop((0, top, img.width, bottom))


def _number_image(text: str, width_px: int) -> Image.Image:
    """The big number drawn at half resolution; printed with double-size dots (4x fewer bytes)."""
    half = width_px // 2
    size = fit_font_size(text, int(half * 0.92), max_size=half // 3, bold=True)
    return _trim(render_lines([(text, size, True, "center")], half, margin=0))


def _text_image(blocks: list, width_px: int) -> Image.Image:
    sizes = text_sizes(width_px)
    lines = []
    for b in blocks:
        size = sizes[b.size]
        lines.append((b.text, size, b.bold, b.align))
    return _trim(render_lines(lines, width_px))


def _groups(blocks: list):
    """Consecutive text/rule blocks grouped; QR and Feed blocks alone."""
    group: list = []
    for b in blocks:
        if isinstance(b, Text | Rule):
            group.append(b)
            continue
        if group:
            yield "text", group
            group = []
        yield ("qr" if isinstance(b, QR) else "feed"), b
    if group:
        yield "text", group


def _rule_image(width_px: int) -> Image.Image:
    img = Image.new("1", (width_px, 10), 1)
    draw = ImageDraw.Draw(img)
    for x in range(0, width_px, 12):
        draw.line((x, 5, x + 6, 5), fill=0, width=2)
    return img


def _raster_pieces(blocks: list, width_px: int) -> list[tuple[str, object]]:
    """('image', Image) and ('qr', QR) pieces in order; rules become their own small images."""
    pieces: list[tuple[str, object]] = []
    for kind, item in _groups(blocks):
        if kind == "text":
            run: list = []
            for b in item:
                if isinstance(b, Rule) or b.size == "huge":
                    if run:
                        pieces.append(("image", _text_image(run, width_px)))
                        run = []
                    if isinstance(b, Rule):
                        pieces.append(("image", _rule_image(width_px)))
                    else:
                        pieces.append(("image2x", _number_image(b.text, width_px)))
                else:
                    run.append(b)
            if run:
                pieces.append(("image", _text_image(run, width_px)))
        elif kind == "qr":
            pieces.append(("qr", item))
    return pieces


def render_preview(ticket: TicketPrint, width_px: int) -> Image.Image:
    """The whole ticket as one 1-bit image `width_px` wide (what raster mode prints)."""
    parts: list[Image.Image] = []
    for kind, item in _raster_pieces(ticket_blocks(ticket), width_px):
        if kind == "image":
            parts.append(item)
        elif kind == "image2x":
            big = item.resize((item.width * 2, item.height * 2), Image.NEAREST)
            row = Image.new("1", (width_px, big.height), 1)
            row.paste(big, ((width_px - big.width) // 2, 0))
            parts.append(row)
        else:
            code = qr_image(item.url, qr_module(width_px))
            row = Image.new("1", (width_px, code.height + 8), 1)
            row.paste(code, ((width_px - code.width) // 2, 4))
            parts.append(row)
            if item.caption:
                parts.append(_text_image([Text(item.caption, "small")], width_px))
    height = sum(p.height for p in parts) + 16
    out = Image.new("1", (width_px, height), 1)
    y = 8
    for p in parts:
        out.paste(p, (0, y))
        y += p.height
    return out


# --------------------------------------------------------------------------- ESC/POS


def _qr(p: Escpos, item: QR, width_px: int) -> None:
    native = p.profile.supports("qrCode")
    p.set(align="center")
    if native:
        p.qr(item.url, size=qr_module(width_px) - 1, native=True)
        p._raw(b"\n")  # not p.ln(): its encoder would switch the code table
    else:
        p.image(qr_image(item.url, qr_module(width_px)), impl="bitImageRaster", center=True)


def emit_raster(p: Escpos, ticket: TicketPrint, width_px: int, cut: bool = True) -> None:
    """Emit the ticket as raster images (text) + QR (native when the profile has it)."""
    p._raw(HW_INIT)
    for kind, item in _raster_pieces(ticket_blocks(ticket), width_px):
        if kind == "image":
            p.image(item, impl="bitImageRaster")
        elif kind == "image2x":
            p.set(align="center")  # ESC a also positions raster images on most printers
            p.image(item, impl="bitImageRaster", high_density_vertical=False,
                    high_density_horizontal=False)
            p.set(align="left")
        else:
            _qr(p, item, width_px)
            if item.caption:
                p.image(_text_image([Text(item.caption, "small")], width_px), impl="bitImageRaster")
    if cut:
        p.cut()


def emit_cp1258(
    p: Escpos, ticket: TicketPrint, columns: int, table: int, width_px: int, cut: bool = True
) -> None:
    """Emit the ticket as printer-font text through the CP1258 table number `table`."""
    p._raw(HW_INIT)
    p._raw(CODEPAGE_CHANGE + bytes([table]))

    def lines(text: str, cols: int) -> None:
        for line in wrap_columns(text, cols):
            p._raw(encode_cp1258(line) + b"\n")

    for b in ticket_blocks(ticket):
        if isinstance(b, Rule):
            p.set(align="left", bold=False, normal_textsize=True)
            p._raw(b"-" * columns + b"\n")
        elif isinstance(b, QR):
            _qr(p, b, width_px)
            if b.caption:
                p.set(align="center", bold=False, normal_textsize=True)
                lines(b.caption, columns)
        elif isinstance(b, Text):
            if b.size == "huge":
                mult = max(1, min(8, columns // max(1, len(nfc(b.text)))))
                mult = min(mult, 6)
                p.set(align="center", bold=True, custom_size=True, width=mult, height=mult)
                lines(b.text, columns // mult)
            elif b.size == "large":
                p.set(align=b.align, bold=b.bold, double_width=True, double_height=True)
                lines(b.text, columns // 2)
            else:
                p.set(align=b.align, bold=b.bold, normal_textsize=True)
                lines(b.text, columns)
        elif isinstance(b, Feed):
            p._raw(b"\n" * b.lines)
    p.set(align="left", bold=False, normal_textsize=True)
    if cut:
        p.cut()
