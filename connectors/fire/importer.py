"""Importing inspection files into raw envelopes: JSON forms, and CSV/XLSX exports of an inspection app.

    result = import_file(Path("巡查记录.xlsx"))
    result.envelopes   # one raw envelope per inspection (domain fire)
    result.dlq         # rows or lines that belong to no inspection, with file, row and reason

A `.json` file holds one form or a list of forms, a `.jsonl` file one form per line: each form becomes
an `inspection-json` envelope with its own JSON text. A `.csv` or `.xlsx` export has one row per
checklist item; the rows of one inspection (same 检查编号 inspection_id) become one `inspection-csv`
envelope: the header and those rows as CSV text, so the pipeline reads them as the app wrote them.
Nothing is checked here beyond what grouping needs: the pipeline validates each form, and a bad one
goes to its DLQ with the reason.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from safecampus.connectors.fire.forms import column_of
from safecampus.connectors.workbook import WorkbookRefused, open_xlsx
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.envelope import RawEnvelope

MAX_FILE_BYTES = 64 * 1024 * 1024
GATEWAY = "inspection-import"


class ImportRefused(ValueError):
    """A file we cannot read at all; str() says why in one line."""


@dataclass
class ImportResult:
    path: Path
    envelopes: list[RawEnvelope] = field(default_factory=list)
    dlq: list[DlqRecord] = field(default_factory=list)


def import_file(path: Path, sheet: str | None = None) -> ImportResult:
    """The envelopes of one inspection file, by its suffix (.json, .jsonl, .csv, .xlsx)."""
    if not path.is_file():
        raise ImportRefused(f"{path} 不是文件 is not a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(
            f"{path.name} 文件过大 is {path.stat().st_size:,} bytes, above the {MAX_FILE_BYTES:,}-byte limit"
        )
    return import_data(path.name, path.read_bytes(), sheet)


def import_data(name: str, data: bytes, sheet: str | None = None) -> ImportResult:
    """The envelopes of a file's bytes, read as `import_file` reads the file called `name`."""
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return _json_file(path, data, suffix == ".jsonl")
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # Excel on a Chinese Windows saves CSV in GBK
            except UnicodeDecodeError:
                raise ImportRefused(f"{path.name} 编码无法识别 is neither UTF-8 nor GB18030 text") from None
        try:  # newline="": a bare CR ends a row, as csv wants (found by fuzzing, issue 10)
            table: list[list[object]] = [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise ImportRefused(f"{path.name} 不是可读的 CSV is not readable CSV ({exc})") from None
        return _rows(path, table)
    if suffix == ".xlsx":
        try:
            with open_xlsx(path.name, data) as xlsx:
                ws = xlsx.sheet(sheet)
                return _rows(path, [values for _, values in xlsx.rows(ws) if any(v not in (None, "") for v in values)])
        except WorkbookRefused as exc:
            raise ImportRefused(str(exc)) from None
    raise ImportRefused(f"{path.name}: 检查记录须为 an inspection file is .json, .jsonl, .csv or .xlsx")


def _envelope(payload: str, source: str, key: str | None, content_type: str) -> RawEnvelope:
    return RawEnvelope(
        domain="fire",
        source=source,  # type: ignore[arg-type]
        payload=payload,
        content_type=content_type,
        received_at=datetime.now(UTC),
        gateway=GATEWAY,
        key=key[:64] if key else None,
    )


def _json_file(path: Path, data: bytes, lines: bool) -> ImportResult:
    result = ImportResult(path)
    chunks: list[tuple[int, bytes]] = (
        [(n, line) for n, line in enumerate(data.splitlines(), start=1) if line.strip()] if lines else [(1, data)]
    )
    for n, chunk in chunks:
        try:
            parsed = json.loads(chunk)
        except (ValueError, RecursionError) as exc:
            result.dlq.append(_bad(path, n, f"line {n} is not valid JSON ({str(exc)[:120]})", chunk))
            continue
        forms = parsed if isinstance(parsed, list) and not lines else [parsed]
        for form in forms:
            if not isinstance(form, dict):
                result.dlq.append(_bad(path, n, f"line {n}: an inspection form is a JSON object", chunk))
                continue
            text = chunk.decode("utf-8") if lines else json.dumps(form, ensure_ascii=False)
            key = form.get("institution_id")
            result.envelopes.append(
                _envelope(text, "inspection-json", key if isinstance(key, str) else None, "application/json")
            )
    return result


def _rows(path: Path, table: list[list[object]]) -> ImportResult:
    """Group an export's rows by inspection: the header plus each inspection's rows as one CSV envelope."""
    result = ImportResult(path)
    table = [row for row in table if any(cell not in (None, "") for cell in row)]
    if not table:
        raise ImportRefused(f"{path.name} 是空文件 is empty")
    header: list[object] = [str(h or "").strip() for h in table[0]]
    columns = [column_of(str(h)) for h in header]
    if "inspection_id" not in columns or "item_code" not in columns:
        raise ImportRefused(
            f"{path.name}: the first row must name the columns, with 检查编号 inspection_id and 检查项 item_code "
            f"(found {', '.join(str(h) for h in header if h) or 'none'})"
        )
    at_id, at_inst = (
        columns.index("inspection_id"),
        columns.index("institution_id") if "institution_id" in columns else -1,
    )
    groups: dict[str, list[list[object]]] = {}
    for n, row in enumerate(table[1:], start=2):
        inspection = str(row[at_id]).strip() if at_id < len(row) and row[at_id] not in (None, "") else ""
        if not inspection:
            result.dlq.append(
                _bad(path, n, f"row {n} has no 检查编号 inspection_id: it belongs to no inspection", _csv([row]))
            )
            continue
        groups.setdefault(inspection, []).append(row)
    for rows in groups.values():
        first = rows[0]
        key = str(first[at_inst]).strip() if 0 <= at_inst < len(first) and first[at_inst] else None
        result.envelopes.append(_envelope(_csv([list(header), *rows]), "inspection-csv", key, "text/csv"))
    return result


def _csv(rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if c is None else (c.isoformat() if isinstance(c, datetime) else c) for c in row])
    return out.getvalue()


def _bad(path: Path, n: int, reason: str, original: bytes | str) -> DlqRecord:
    data = original.encode("utf-8") if isinstance(original, str) else original
    return DlqRecord.of("fire", "import", f"{path.name}: {reason}", data, path.name, n)
