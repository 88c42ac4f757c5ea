"""Hypothesis on the procedure importer (server/importer.py) with malformed files: it always
either imports every row or raises QMSError naming a line and imports nothing; never
another exception. CSV text is generated and mutated; XLSX files are real workbooks,
then truncated or overwritten with garbage.

The 100,000-case CSV run: `.venv/bin/python bench/fuzz_serial.py --only importer`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.errors import QMSError
from server.importer import import_procedures
from server.setup import open_store as _store_and_config

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
HEADERS = ["code", "Mã TTHC", "name", "Tên thủ tục", "field", "Lĩnh vực", "team id", "Tổ",
           "documents", "fee", "level", "agency", "processing days", "x", ""]
CELL = st.one_of(st.text(max_size=30), st.sampled_from(["1", "2", "7", "1.0", "abc", "",
                                                         "1.001193", '"', "\r\n", ","]),
                 st.text(max_size=3000).filter(lambda s: len(s) > 2000))


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(CELL, max_size=len(header) + 1), max_size=8))
    out = io.StringIO()
    import csv

    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    data = out.getvalue().encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    for _ in range(draw(st.integers(0, 3))):  # mutations
        pos = draw(st.integers(0, max(len(data), 1)))
        kind = draw(st.sampled_from(["cut", "insert", "flip"]))
        junk = draw(st.binary(min_size=1, max_size=4))
        if kind == "cut":
            data = data[:pos]
        elif kind == "insert":
            data = data[:pos] + junk + data[pos:]
        else:
            data = data[:pos] + junk + data[pos + len(junk):]
    return data


@pytest.fixture
def store_cfg(data_dir):
    store, cfg = _store_and_config(data_dir)
    yield store, cfg
    store.close()


def snapshot(store) -> list:
    with store.read():
        return sorted((p["code"], p["name"], p.get("team_id")) for p in store.procedures(None))


def check_import(store, cfg, path: Path) -> None:
    before = snapshot(store)
    try:
        n = import_procedures(store, cfg, path)
    except QMSError as err:
        assert re.search(r"line \d+", err.message), err.message
        assert isinstance(err.details.get("line"), int), err.details
        assert snapshot(store) == before
        return
    after = {code for code, _, _ in snapshot(store)}
    assert n >= 0 and len(after) >= len(before)


@FUZZ
@given(csv_files())
@example(b"name\n\xff\xfe bad utf-8\n")
@example(b"")
@example(b"code,name\n1,\x00\n")
@example(b"code,name\n1," + b"x" * 140_000 + b"\n")
@example(b'code,name\n1,"unterminated\n')
def test_csv_imports_all_or_fails_with_a_line(store_cfg, tmp_path_factory, data):
    store, cfg = store_cfg
    path = tmp_path_factory.mktemp("csv") / "catalogue.csv"
    path.write_bytes(data)
    check_import(store, cfg, path)


@pytest.fixture(scope="module")
def xlsx_bytes(tmp_path_factory) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Mã TTHC", "Tên thủ tục", "Lĩnh vực", "Tổ"])
    for i in range(30):
        ws.append([f"X.{i:06d}", f"Thủ tục thử {i}", "Hộ tịch", 1 + i % 6])
    ws.append([None, None, None, None])
    ws.append(["X.999999", 12345, None, "7"])
    path = tmp_path_factory.mktemp("xlsx") / "base.xlsx"
    wb.save(path)
    return path.read_bytes()


@FUZZ
@given(st.integers(0, 10**9), st.sampled_from(["cut", "garble", "insert"]),
       st.binary(min_size=1, max_size=64))
def test_xlsx_truncated_or_garbled(store_cfg, tmp_path_factory, xlsx_bytes, pos, kind, junk):
    data = xlsx_bytes
    pos %= len(data) + 1
    if kind == "cut":
        data = data[:pos]
    elif kind == "garble":
        data = data[:pos] + junk + data[pos + len(junk):]
    else:
        data = data[:pos] + junk + data[pos:]
    path = tmp_path_factory.mktemp("xlsx") / "catalogue.xlsx"
    path.write_bytes(data)
    store, cfg = store_cfg
    check_import(store, cfg, path)
