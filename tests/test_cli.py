"""The `qms` command line on real files, a real printer emulator and a real server process."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import openpyxl
import pytest

from hardware.emulators.escpos_stream import decode_text
from hardware.emulators.printer_server import PrinterEmulator
from qms.cli import main
from server.storage import Store
from tests.conftest import ROOT, free_port

GOOD = "code,name,field,fee\n9.000001,Cấp giấy phép thử nghiệm,Hộ tịch,Miễn phí\n" \
       "9.000002,Đăng ký thử nghiệm,Đất đai,50.000 đồng\n"


@pytest.fixture
def empty_dir(tmp_path):
    d = tmp_path / "centre"
    assert main(["--data-dir", str(d), "init"]) == 0
    return d


def count(d) -> int:
    store = Store(d / "qms.db")
    try:
        return store.procedure_count()
    finally:
        store.close()


def test_init_creates_config_and_database(empty_dir):
    cfg = tomllib.loads((empty_dir / "centre.toml").read_text())
    assert cfg["timezone"] == "Asia/Ho_Chi_Minh" and cfg["demo"] is False
    assert (empty_dir / "qms.db").exists()


def test_demo_centre(demo_template):
    cfg = tomllib.loads((demo_template / "centre.toml").read_text())
    assert len(cfg["teams"]) == 8 and len(cfg["counters"]) == 23
    assert count(demo_template) == 349


def test_import_csv_and_bad_row(empty_dir, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    assert main(["--data-dir", str(empty_dir), "import-procedures", str(good)]) == 0
    assert count(empty_dir) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "9.000003,,Hộ tịch,0\n" + "9.000004,Tên,Hộ tịch,0\n")
    assert main(["--data-dir", str(empty_dir), "import-procedures", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "nothing was imported" in err
    assert count(empty_dir) == 2


def test_import_xlsx_with_vietnamese_headers(empty_dir, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Thành phần hồ sơ"])
    ws.append(["9.100001", "Thủ tục đăng ký tạm trú", "Đăng ký, quản lý cư trú",
               "Tờ khai thay đổi thông tin cư trú\nGiấy tờ chứng minh chỗ ở hợp pháp"])
    path = tmp_path / "catalogue.xlsx"
    wb.save(path)
    assert main(["--data-dir", str(empty_dir), "import-procedures", str(path)]) == 0
    store = Store(empty_dir / "qms.db")
    proc = store.procedure("9.100001")
    store.close()
    assert proc["documents"] == ["Tờ khai thay đổi thông tin cư trú",
                                 "Giấy tờ chứng minh chỗ ở hợp pháp"]


def test_import_rejects_unknown_format(empty_dir, tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF")
    assert main(["--data-dir", str(empty_dir), "import-procedures", str(path)]) == 2


def test_user_and_device_add(empty_dir, capsys):
    assert main(["--data-dir", str(empty_dir), "user", "add", "lan", "--role", "officer",
                 "--counter", "1", "--password", "mat-khau-1"]) == 0
    assert main(["--data-dir", str(empty_dir), "user", "add", "x", "--role", "officer",
                 "--password", "123"]) == 2  # too short
    assert main(["--data-dir", str(empty_dir), "device", "add", "kiosk-2",
                 "--kind", "kiosk"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("d_") and len(token) > 40
    store = Store(empty_dir / "qms.db")
    assert store.user("lan")["counters"] == [1]
    assert store.user("lan")["password_hash"] != "mat-khau-1"
    store.close()


def test_printer_test_prints_vietnamese(capsys):
    with PrinterEmulator() as printer:
        assert main(["printer", "test", printer.url, "--profile", "TM-T20II",
                     "--mode", "cp1258"]) == 0
        job = printer.wait_for_jobs(1)[0]
    assert "Đăng ký khai sinh – Hộ tịch, quầy số 5" in decode_text(job)
    assert "test ticket printed" in capsys.readouterr().out


def test_printer_test_reports_offline(capsys):
    port = free_port()
    assert main(["printer", "test", f"tcp://127.0.0.1:{port}?timeout=1"]) == 2
    assert "Lỗi" in capsys.readouterr().err


def test_serve_refuses_demo_passwords_outside_demo(data_dir):
    cfg_path = data_dir / "centre.toml"
    cfg_path.write_text(cfg_path.read_text().replace("demo = true", "demo = false"))
    proc = subprocess.run([sys.executable, "-m", "qms", "--data-dir", str(data_dir),
                           "serve", "--port", str(free_port())], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3
    assert "demo password" in proc.stderr and "admin" in proc.stderr


def test_import_strips_control_characters(empty_dir, tmp_path):
    """ESC p in a procedure name would open a cash drawer on an ESC/POS printer in CP1258
    mode: the importer keeps no control character in any text field (issue #12, 18)."""
    path = tmp_path / "esc.csv"
    path.write_text("code,name,field,fee,documents\n"
                    "9.000009,Cấp \x1bp\x00\x07phép\x7f thử,Hộ tịch,Miễn\x1b@ phí,"
                    "\"Tờ khai\x1b\nCCCD\"\n", encoding="utf-8")
    assert main(["--data-dir", str(empty_dir), "import-procedures", str(path)]) == 0
    store = Store(empty_dir / "qms.db")
    try:
        proc = store.procedure("9.000009")
    finally:
        store.close()
    # the fee text as imported (the short fee line is read from it: issue #16)
    assert proc["name"] == "Cấp pphép thử" and proc["fee_text"] == "Miễn@ phí"
    texts = [proc["name"], proc["fee"], proc["field"], *proc.get("documents", [])]
    assert not any(ch in text for text in texts for ch in "\x1b\x00\x07\x7f")
