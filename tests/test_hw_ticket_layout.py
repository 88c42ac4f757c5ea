"""Ticket layout: blocks, raster preview legibility at 58 and 80 mm, CP1258 emission."""

from datetime import datetime

import pytest
from escpos.printer import Dummy

from hardware.emulators.escpos_stream import decode_text, qr_payloads, raster_images
from hardware.escpos_vn import ink_ratio
from hardware.ticket_layout import (
    QR,
    Text,
    TicketPrint,
    emit_cp1258,
    emit_raster,
    format_wait,
    render_preview,
    ticket_blocks,
)

PHRASE = "Đăng ký khai sinh – Hộ tịch, quầy số 5"


def ticket(**kw):
    base = dict(
        centre="Trung tâm Phục vụ Hành chính công tỉnh Bắc Ninh",
        team="Tổ 1 – Tư pháp, Hộ tịch",
        number="1023",
        procedure=PHRASE,
        issued_at=datetime(2025, 11, 22, 8, 15),
        waiting_ahead=12,
        estimated_wait_s=1500,
        status_url="https://hcc.example.gov.vn/t/Xk3fP9aQ2mZ7",
        footer="Cảm ơn quý khách.",
    )
    base.update(kw)
    return TicketPrint(**base)


def test_blocks_in_order_with_labels():
    blocks = ticket_blocks(ticket())
    texts = [b.text for b in blocks if isinstance(b, Text)]
    assert texts[0].startswith("Trung tâm")
    assert "1023" in texts
    assert any("Số người chờ trước bạn: 12" == t for t in texts)
    assert any(t.endswith("~25 phút") for t in texts)
    assert isinstance([b for b in blocks if isinstance(b, QR)][0], QR)


def test_english_labels():
    texts = [b.text for b in ticket_blocks(ticket(lang="en")) if isinstance(b, Text)]
    assert "People ahead of you: 12" in texts


def test_format_wait():
    assert format_wait(30) == "dưới 1 phút"
    assert format_wait(600) == "~10 phút"
    assert format_wait(3900) == "~1 giờ 5 phút"
    assert format_wait(3600, "en") == "~1 h"


@pytest.mark.parametrize("width", [384, 576])
def test_preview_is_legible(width, tmp_path):
    img = render_preview(ticket(), width)
    img.save(tmp_path / f"ticket-{width}.png")
    assert img.width == width
    assert 400 < img.height < 1400
    assert 0.05 < ink_ratio(img) < 0.45
    # the big number: its row band must hold much more ink than body text
    rows = [sum(1 for x in range(width) if img.getpixel((x, y)) == 0) for y in range(img.height)]
    assert max(rows) > width * 0.3


@pytest.mark.parametrize("profile,width", [("POS-5890", 384), ("TM-T20II", 576)])
def test_raster_emission_images_fit_paper(profile, width):
    p = Dummy(profile=profile)
    emit_raster(p, ticket(), width)
    images = list(raster_images(p.output))
    assert images and all(im.width <= width for im in images)
    assert sum(ink_ratio(im) * im.width * im.height for im in images) > 5000
    assert p.output.endswith(b"\x1bd\x06\x1dV\x00") or profile == "POS-5890"


def test_cp1258_emission_decodes_back():
    p = Dummy(profile="TM-T20II")
    emit_cp1258(p, ticket(), columns=48, table=52, width_px=576)
    text = decode_text(p.output)
    assert PHRASE in text
    assert "Số người chờ trước bạn: 12" in text
    assert "Cảm ơn quý khách." in text
    assert b"\x1bt\x34" in p.output  # ESC t 52
    assert qr_payloads(p.output) == ["https://hcc.example.gov.vn/t/Xk3fP9aQ2mZ7"]


def test_cp1258_emission_on_58mm_wraps_to_32_columns():
    p = Dummy(profile="POS-5890")
    emit_cp1258(p, ticket(), columns=32, table=94, width_px=384)
    text = decode_text(p.output)
    assert all(len(line) <= 32 for line in text.splitlines())
    assert PHRASE in " ".join(text.split())


def test_no_counter_open_prints_a_line_instead_of_a_wait():
    blocks = ticket_blocks(ticket(no_counter_open=True, estimated_wait_s=None, waiting_ahead=0))
    texts = [b.text for b in blocks if isinstance(b, Text)]
    assert "Hiện chưa có quầy mở cho thủ tục này" in texts
    assert "Số người chờ trước bạn: 0" in texts
    assert not any("Thời gian chờ" in t for t in texts)
    p = Dummy(profile="TM-T20II")
    emit_cp1258(p, ticket(no_counter_open=True, estimated_wait_s=None, lang="en"), 48, 52, 576)
    text = decode_text(p.output)
    assert "No counter is open for this procedure yet" in text and "Estimated wait" not in text


@pytest.mark.parametrize("width", [384, 576])
def test_the_number_is_centred_on_paper_like_the_lines_around_it(width):
    """The big number's ink sits in the middle of the paper (as printed in raster mode)."""
    for number in ("7", "1023", "10023"):
        img = render_preview(ticket(number=number), width)
        ink = img.convert("L").point(lambda v: 255 - v)
        # the number is the tallest run of inked rows: find its band, then its left/right
        rows = [ink.crop((0, y, width, y + 1)).getbbox() is not None for y in range(img.height)]
        runs, start = [], None
        for y, inked in enumerate(rows + [False]):
            if inked and start is None:
                start = y
            elif not inked and start is not None:
                runs.append((y - start, start, y))
                start = None
        _, top, bottom = max(runs)
        left, _, right, _ = ink.crop((0, top, width, bottom)).getbbox()
        assert abs((left + right) / 2 - width / 2) <= width * 0.03, (number, left, right)
