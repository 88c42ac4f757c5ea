"""Import a procedure catalogue from CSV or XLSX (national-portal style columns).

Every row is checked before anything is written (`read_catalogue`); a bad row is reported
with its line number and nothing is imported. The import itself is a command through the
queue service's write path (`import_procedures`): the rows, the audit row and the
`config.changed` events in one transaction, idempotent under an Idempotency-Key."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from common.text import fold, nfc

from .boundary import clean_text
from .errors import ValidationFailed
from .procedure_texts import days_value, parse_fee, parse_time, whole_sentences
from .service import QueueService, iso

# documents, fees and times of the most used procedures from their public records
RECORDS_FILE = Path(__file__).parent / "data" / "procedure-records.json"

# accepted header spellings (folded) -> field
HEADERS = {
    "code": "code", "ma": "code", "ma thu tuc": "code", "ma tthc": "code",
    "name": "name", "ten": "name", "ten thu tuc": "name", "ten tthc": "name",
    "field": "field", "linh vuc": "field",
    "agency": "agency", "co quan thuc hien": "agency", "co quan": "agency",
    "level": "level", "cap thuc hien": "level", "cap": "level",
    "processing days": "processing_days", "thoi han giai quyet": "processing_days",
    "thoi gian giai quyet": "processing_days", "processing time": "processing_days",
    "fee": "fee", "phi le phi": "fee", "le phi": "fee",
    "documents": "documents", "thanh phan ho so": "documents",
    "team id": "team_id", "to": "team_id",
    "source": "source", "nguon": "source",
}
REQUIRED = ("code", "name")
COLUMNS_REQUIRED = ("name",)


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, raw row) pairs from a .csv or .xlsx file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            _fail(data[:exc.start].count(b"\n") + 1, f"{path.name}: not UTF-8 text", exc)
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader, None)
            if header is None:
                _fail(1, f"{path.name}: the file is empty")
            keys = _map_header(header, path.name)
            for line, values in enumerate(reader, start=2):
                if any(v.strip() for v in values):
                    yield line, dict(zip(keys, values, strict=False))
        except csv.Error as exc:
            _fail(reader.line_num or 1, f"{path.name}: {exc}", exc)
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ValidationFailed(f"line 1: {path.name}: not a readable Excel file ({exc})",
                                   code="bad_import", details={"line": 1}) from exc
        line = 1
        try:
            rows = wb.worksheets[0].iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                _fail(1, f"{path.name}: the sheet is empty")
            keys = _map_header(["" if h is None else str(h) for h in header], path.name)
            for line, values in enumerate(rows, start=2):  # noqa: B007 - used on failure
                vals = ["" if v is None else str(v) for v in values]
                if any(v.strip() for v in vals):
                    yield line, dict(zip(keys, vals, strict=False))
        except ValidationFailed:
            raise
        except Exception as exc:  # a damaged sheet fails while it is read (read-only mode)
            _fail(line, f"{path.name}: not a readable Excel file ({exc})", exc)
        finally:
            wb.close()
    else:
        raise ValidationFailed(f"{path.name}: use a .csv or .xlsx file", code="bad_import")


def _fail(line: int, message: str, cause: Exception | None = None):
    raise ValidationFailed(f"line {line}: {message}", code="bad_import",
                           details={"line": line}) from cause


def _map_header(header: list[str], name: str) -> list[str | None]:
    keys = [HEADERS.get(fold(h)) for h in header]
    missing = [r for r in COLUMNS_REQUIRED if r not in keys]
    if missing:
        _fail(1, f"{name}: missing column(s) {', '.join(missing)}")
    return keys


def clean_row(line: int, raw: dict, team_for_field: Callable[[str], int | None],
              team_ids: set[int]) -> dict:
    row = {k: clean_text(nfc(str(v)), multiline=(k == "documents")).strip()
           for k, v in raw.items() if k}
    if row.get("name") and not row.get("code"):
        # some procedures on the portal have no national code yet: give a stable local one
        row["code"] = "L." + hashlib.sha1(fold(row["name"]).encode()).hexdigest()[:8]
    for key in REQUIRED:
        if not row.get(key):
            raise ValidationFailed(f"line {line}: empty {key}", code="bad_import",
                                   details={"line": line})
    if len(row["code"]) > 40 or len(row["name"]) > 2000:
        raise ValidationFailed(f"line {line}: code or name too long", code="bad_import",
                               details={"line": line})
    docs = row.get("documents", "")
    row["documents"] = [d.strip(" -•\t") for d in docs.replace("|", "\n").splitlines()
                        if d.strip(" -•\t")]
    team = row.pop("team_id", "")
    if team:
        try:
            row["team_id"] = int(float(team))
        except ValueError as exc:
            raise ValidationFailed(f"line {line}: team must be a number, not {team!r}",
                                   code="bad_import", details={"line": line}) from exc
        if row["team_id"] not in team_ids:
            raise ValidationFailed(f"line {line}: unknown team {row['team_id']}",
                                   code="bad_import", details={"line": line})
    else:
        row["team_id"] = team_for_field(row.get("field", ""))
    row.update(parse_fee(row.get("fee", "")))
    _set_time(row, parse_time(row.get("processing_days", "")))
    return row


def _set_time(row: dict, parsed: dict) -> None:
    row.update(parsed)
    row["processing_days"] = days_value(parsed["time_days"])


@functools.cache
def _shipped_records() -> dict:
    return load_records(RECORDS_FILE)


def load_records(path: Path) -> dict:
    """{code: record} from a records file like `server/data/procedure-records.json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["records"]


def _cut(text: str) -> bool:
    return whole_sentences(text) != (text or "").strip()


def apply_record(row: dict, record: dict) -> dict:
    """Fill a row from the public record of its procedure: the documents when the row has
    none; the fee and the time when the row's text is missing, cut off, unclear (`fee_free`
    unknown) or bare ("2.000 đồng", "Miễn phí", "5": nothing the record does not say better).
    A row's own clear and detailed text wins."""
    if not row.get("documents") and record.get("documents"):
        row["documents"] = [nfc(d) for d in record["documents"]]
    fee_text = row.get("fee_text") or ""
    if record.get("fee_text") and (row.get("fee_free") is None or _cut(fee_text)
                                   or fee_text == row.get("fee")):
        fee = parse_fee(record["fee_text"])
        fee.update({k: record[k] for k in ("fee", "fee_free", "fee_amount_min",
                                            "fee_amount_max") if k in record})
        row.update(fee)
    time_text = row.get("time_text") or ""
    if record.get("time_text") and (row.get("time_days") is None or _cut(time_text)
                                    or time_text == row.get("processing_days")):
        parsed = parse_time(record["time_text"])
        if "time_days" in record:
            parsed["time_days"] = record["time_days"]
        _set_time(row, parsed)
    return row


def read_catalogue(path: Path, config, documents: dict | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   records: dict | None = None) -> list[dict]:
    """Every row of the file, cleaned and checked (a bad row raises, naming its line), its
    fee and time texts read into clean fields and completed from the public records of the
    most used procedures (`records`, by default `server/data/procedure-records.json`)."""
    path = Path(path)
    records = _shipped_records() if records is None else records
    default = next((t.id for t in config.teams if "*" in t.fields), None)
    team_ids = {t.id for t in config.teams}

    def team_for_field(field: str) -> int | None:
        found = config.team_for_field(field)
        return found if found is not None else default

    rows, seen = [], {}
    raw_rows = list(read_rows(path))
    for i, (line, raw) in enumerate(raw_rows, start=1):
        row = clean_row(line, raw, team_for_field, team_ids)
        if row["code"] in seen:
            raise ValidationFailed(f"line {line}: code {row['code']} repeats line "
                                   f"{seen[row['code']]}", code="bad_import",
                                   details={"line": line})
        seen[row["code"]] = line
        if documents and not row["documents"]:
            row["documents"] = documents.get(row["code"], [])
        if row["code"] in records:
            apply_record(row, records[row["code"]])
        rows.append(row)
        if progress:
            progress(i, len(raw_rows))
    return rows


def import_procedures(store, config, path: Path, documents: dict | None = None,
                      progress: Callable[[int, int], None] | None = None, *,
                      queue: QueueService | None = None, actor: str = "cli",
                      file_name: str | None = None, idem=None, announce: bool = True) -> int:
    """Validate every row, then write them all, the audit row and the `config.changed`
    events in one transaction (through `queue`, or a queue service over `store` and
    `config`). `announce=False` only while `qms init` seeds a new centre: nobody listens
    yet and its event log starts with the first ticket. The number of procedures written
    (under a repeated `idem` key: the first import's answer, nothing written twice)."""
    path = Path(path)
    rows = read_catalogue(path, config, documents, progress)
    queue = queue or QueueService(store, config)

    def cmd(now, events):
        count = queue.store.upsert_procedures(rows)
        queue.store.audit(iso(now), actor, "procedure.import",
                          {"file": file_name or path.name, "count": count})
        if announce:
            queue.config_changed(events, now, what="procedures", action="procedure.import",
                                 actor=actor)
        return 200, {"count": count}

    return queue.run(cmd, idem)[1]["count"]
