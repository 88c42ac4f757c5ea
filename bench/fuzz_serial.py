"""Long fuzz runs (plain random + mutation, seeded) of the serial protocols and the CSV
importer: ≥100,000 cases per target. Any exception other than the expected ones is a
finding; the first few are printed with the input that caused them.

    .venv/bin/python bench/fuzz_serial.py [--cases 100000] [--seed 1] [--only NAME ...]

Targets: frames (STX/ETX decoder in random chunks, valid frames in garbage), lines (line
decoder + keypad parse_line), keypad (parse_frame / parse_rating on random frames),
emulators (LED board, rating pad and keypad emulators' decoders), importer (CSV files
through server.importer.import_procedures into a real SQLite store), xlsx (valid, mutated
and truncated XLSX workbooks through the same importer).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.emulators.serial_devices import (  # noqa: E402
    KeypadEmulator,
    LedBoardEmulator,
    RatingPadEmulator,
)
from hardware.framing import STX, Frame, FrameDecoder, LineDecoder, encode_frame  # noqa: E402
from hardware.keypad import Key, KeyPress, encode_key_frame, encode_line, parse_frame, parse_line  # noqa: E402,E501
from hardware.ledboard import counter_frame, line_frame  # noqa: E402
from hardware.ratingpad import parse_rating, rate_frame  # noqa: E402


def rbytes(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(rng.randint(0, n))


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randint(0, len(b))
        if op < 0.3 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op < 0.6:
            b[pos:pos] = rng.randbytes(rng.randint(1, 4))
        elif op < 0.8:
            del b[pos:pos + rng.randint(1, 4)]
        else:
            b[pos:pos] = bytes((STX,))
    return bytes(b)


def chunked(rng: random.Random, data: bytes) -> list[bytes]:
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 4)))
    out, last = [], 0
    for c in [*cuts, len(data)]:
        out.append(data[last:c])
        last = c
    return out


def random_frame(rng: random.Random) -> Frame:
    return Frame(rng.randrange(256), rng.randrange(256), rbytes(rng, 24))


def random_press(rng: random.Random) -> KeyPress:
    key = rng.choice(list(Key))
    digits = str(rng.randint(0, 10**rng.randint(1, 8) - 1)) if key == Key.DIGITS or \
        rng.random() < 0.3 else None
    return KeyPress(rng.randint(1, 254), key, digits)


def garbage_no_stx(rng: random.Random, n: int = 40) -> bytes:
    return rbytes(rng, n).replace(bytes((STX,)), b"")


# -- targets: each takes rng, raises on a finding -------------------------------------------------
def t_frames(rng: random.Random) -> None:
    sent = [random_frame(rng) for _ in range(rng.randint(0, 3))]
    clean = b"".join(garbage_no_stx(rng) + encode_frame(f.address, f.command, f.data)
                     for f in sent) + garbage_no_stx(rng)
    mode = rng.random()
    wire = clean if mode < 0.4 else mutate(rng, clean) if mode < 0.8 else rbytes(rng, 300)
    dec = FrameDecoder("fuzz")
    got = []
    for part in chunked(rng, wire):
        got += dec.feed(part, now=0.0)
    for f in got:
        assert encode_frame(f.address, f.command, f.data) in wire, f
    if wire is clean:
        assert got == sent, (got, sent)


def t_lines(rng: random.Random) -> None:
    press = random_press(rng)
    before = rbytes(rng, 80).replace(b"\n", b"")
    clean = before + b"\n" + encode_line(press)
    wire = clean if rng.random() < 0.5 else mutate(rng, clean)
    dec = LineDecoder("fuzz")
    lines = []
    for part in chunked(rng, wire):
        lines += dec.feed(part, now=0.0)
    parsed = [parse_line(line) for line in lines]
    if wire is clean:
        assert press in parsed, (press, lines)
    parse_line(rbytes(rng, 70).decode("latin-1"))


def t_keypad(rng: random.Random) -> None:
    frame = random_frame(rng)
    if rng.random() < 0.3:
        frame = Frame(frame.address, rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 0x30]), frame.data)
    parse_frame(frame)
    parse_rating(frame)
    press, score, pad = random_press(rng), rng.randint(1, 4), rng.randint(1, 254)
    wire = garbage_no_stx(rng) + encode_key_frame(press) + rate_frame(pad, score)
    k, r = FrameDecoder("fuzz").feed(wire, now=0.0)
    assert parse_frame(k) == press and parse_rating(r).score == score


def t_emulators(rng: random.Random) -> None:
    text = "".join(rng.choice("Mời số 0123456789ĐđÀàQuầy ABC\x00\xff") for _ in range(30))
    wire = (counter_frame(rng.randint(1, 255), text[:6], text[6:8], rng.random() < 0.5)
            + line_frame(rng.randint(1, 255), rng.randint(0, 15), text)
            + encode_frame(rng.randrange(256), rng.choice([0x10, 0x11, 0x20, 0x21, 0x22, 0x31,
                                                           0x32, 0x40]), rbytes(rng, 10)))
    wire = wire if rng.random() < 0.5 else mutate(rng, wire)
    for dev in EMULATORS:
        dev.on_bytes(wire)
        dev.on_bytes(b"#" + rbytes(rng, 4) + b" SHOW " + rbytes(rng, 6) + b"\n")


EMULATORS = [LedBoardEmulator(), RatingPadEmulator(), KeypadEmulator(),
             KeypadEmulator(protocol="line")]


class Importer:
    """CSV files through the real importer into a demo store."""

    HEADERS = ["code", "Mã TTHC", "name", "Tên thủ tục", "Lĩnh vực", "Tổ", "documents", "fee",
               "x", ""]
    CELLS = ["1", "7", "1.0", "abc", "", "1.001193", '"', "\r\n", ",", "Hộ tịch", "Đất đai",
             "Thủ tục đăng ký khai sinh", "a|b|c", " - giấy tờ", "\x00"]

    def __init__(self) -> None:
        from server.setup import init_demo_centre
        from server.setup import open_store as _store_and_config

        self.tmp = tempfile.TemporaryDirectory(prefix="qms-fuzz-import-")
        with contextlib.redirect_stdout(io.StringIO()):
            init_demo_centre(self.tmp.name)
        self.store, self.cfg = _store_and_config(Path(self.tmp.name))
        self.path = Path(self.tmp.name) / "catalogue.csv"
        self.imported = self.rejected = 0

    def __call__(self, rng: random.Random) -> None:
        import csv

        from server.errors import QMSError
        from server.importer import import_procedures

        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(rng.sample(self.HEADERS, rng.randint(1, 5)))
        for _ in range(rng.randint(0, 6)):
            w.writerow([rng.choice(self.CELLS) if rng.random() < 0.7 else
                        rbytes(rng, 12).decode("latin-1") for _ in range(rng.randint(0, 6))])
        data = out.getvalue().encode()
        if rng.random() < 0.5:
            data = mutate(rng, data)
        self.path.write_bytes(data)
        before = self.store.procedure_count()
        try:
            import_procedures(self.store, self.cfg, self.path)
            self.imported += 1
        except QMSError as err:
            assert "line " in err.message and isinstance(err.details.get("line"), int), err
            assert self.store.procedure_count() == before
            self.rejected += 1


class XlsxImporter(Importer):
    """XLSX files through the real importer: a pool of valid workbooks with random cells,
    most of them then mutated byte by byte (a damaged download, a truncated copy)."""

    def __init__(self) -> None:
        super().__init__()
        import openpyxl

        rng = random.Random("xlsx-pool")
        self.pool = []
        for _ in range(20):
            wb = openpyxl.Workbook()
            ws = wb.active
            ws.append(rng.sample(self.HEADERS, rng.randint(1, 5)))
            for _ in range(rng.randint(0, 6)):
                ws.append([rng.choice(self.CELLS).replace("\x00", "") if rng.random() < 0.8
                           else rng.randint(-5, 10**6) for _ in range(rng.randint(0, 6))])
            buf = io.BytesIO()
            wb.save(buf)
            self.pool.append(buf.getvalue())
        self.path = Path(self.tmp.name) / "catalogue.xlsx"

    def __call__(self, rng: random.Random) -> None:
        from server.errors import QMSError
        from server.importer import import_procedures

        data = rng.choice(self.pool)
        if rng.random() < 0.8:
            data = mutate(rng, data) if rng.random() < 0.7 else data[: rng.randint(0, len(data))]
        self.path.write_bytes(data)
        before = self.store.procedure_count()
        try:
            import_procedures(self.store, self.cfg, self.path)
            self.imported += 1
        except QMSError as err:
            assert "line " in err.message or "Excel" in err.message, err
            assert self.store.procedure_count() == before
            self.rejected += 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", nargs="*")
    args = p.parse_args(argv)
    import logging

    logging.disable(logging.CRITICAL)  # decoders log every piece of garbage
    targets = {"frames": t_frames, "lines": t_lines, "keypad": t_keypad,
               "emulators": t_emulators}
    if not args.only or "importer" in args.only:
        targets["importer"] = Importer()
    if not args.only or "xlsx" in args.only:
        targets["xlsx"] = XlsxImporter()
    findings = 0
    print("| target | cases | findings | seconds | cases/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, fn in targets.items():
        if args.only and name not in args.only:
            continue
        rng = random.Random(f"{args.seed}-{name}")
        found = 0
        t0 = time.perf_counter()
        for i in range(args.cases):
            state = rng.getstate()
            try:
                fn(rng)
            except Exception:  # noqa: BLE001 - every other exception is a finding
                found += 1
                if found <= 3:
                    rng.setstate(state)
                    print(f"# {name} case {i}:", file=sys.stderr)
                    traceback.print_exc()
                    rng = random.Random(f"{args.seed}-{name}-{i}")
        dt = time.perf_counter() - t0
        findings += found
        print(f"| {name} | {args.cases:,} | {found} | {dt:.1f} | {args.cases / dt:,.0f} |",
              flush=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
