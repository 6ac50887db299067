"""A canteen file → raw envelopes of normalized records, and the rows we could not use → DLQ records.

    result = import_file(Path("ledger.xlsx"), canteen="C0001")
    result.envelopes   # ledger-json (or survey / rating / disclosure) envelopes for raw.canteen
    result.dlq         # one per bad row: file, row, column, reason, the row's original bytes

The header row is found among the first rows (a title row above it is skipped), in Chinese or
English; which form the file is (ledger, survey, supplier rating, disclosure) is told by its
columns. The envelopes carry the same JSON the stream carries, so replay and streaming see the
same records (`safecampus import canteen FILE --out RAW.jsonl | --kafka HOST:PORT`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safecampus.connectors.canteen.forms import Form, RowContext, RowError, match_form
from safecampus.connectors.canteen.tables import Table, TableError, coordinate, read_data, read_table
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_forms import CanteenDisclosure, CanteenSurvey, SupplierRating
from safecampus.schemas.common import Record
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.envelope import RawEnvelope

HEADER_SEARCH_ROWS = 10
MODELS: dict[str, type[Record]] = {
    "ledger": CanteenLedgerEntry,
    "survey": CanteenSurvey,
    "supplier_rating": SupplierRating,
    "disclosure": CanteenDisclosure,
}
SOURCES = {
    "ledger": "ledger-json",
    "survey": "canteen-survey-json",
    "supplier_rating": "supplier-rating-json",
    "disclosure": "canteen-disclosure-json",
}
IDENTITY: dict[str, Callable[[dict[str, Any]], str]] = {
    "ledger": lambda f: f"凭证号 {f['entry_id']}",
    "survey": lambda f: f"{f['semester']} {f['respondents']} 调查",
    "supplier_rating": lambda f: f"{f['semester']} 供应商 {f['supplier_id']} 评价",
    "disclosure": lambda f: f"{f['month']} 公示",
}


class ImportRefused(ValueError):
    """The whole file cannot be imported; str() is one plain line."""


@dataclass
class ImportResult:
    file: str
    form: Form
    envelopes: list[RawEnvelope] = field(default_factory=list)
    dlq: list[DlqRecord] = field(default_factory=list)
    title_rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.envelopes) + len(self.dlq)


def import_file(
    path: Path, canteen: str | None = None, sheet: str | None = None, received_at: datetime | None = None
) -> ImportResult:
    """Read one file (see the module doc); raises `ImportRefused` when the file as a whole is unusable."""
    try:
        table = read_table(path, sheet)
    except TableError as exc:
        raise ImportRefused(str(exc)) from None
    return import_table(table, canteen, received_at or datetime.now(UTC))


def import_data(
    name: str, data: bytes, canteen: str | None = None, sheet: str | None = None, received_at: datetime | None = None
) -> ImportResult:
    """The same for a file's bytes, its kind told by `name` (.csv, .xlsx, .json, .jsonl)."""
    try:
        table = read_data(name, data, sheet)
    except TableError as exc:
        raise ImportRefused(str(exc)) from None
    return import_table(table, canteen, received_at or datetime.now(UTC))


def import_table(table: Table, canteen: str | None, received_at: datetime) -> ImportResult:
    if table.keyed:
        return _import_keyed(table, canteen, received_at)
    position, form, fields = _header(table)
    header_row, headers, _ = table.rows[position]
    _check_header_merges(table, header_row)
    repeated = _repeated(headers, form)
    if repeated:
        raise ImportRefused(f"{table.name}: 表头「{repeated}」出现两次 the column {repeated!r} appears twice")
    written = {f: str(headers[i]).strip() for i, f in fields.items()}
    result = ImportResult(table.name, form, title_rows=position)
    result.ignored_columns = [str(h).strip() for i, h in enumerate(headers) if i not in fields and h is not None]
    seen: dict[str, int] = {}
    for n, cells, raw in table.rows[position + 1 :]:
        ctx = RowContext(table.name, n, canteen, written)
        try:
            unsaved = [i for i in fields if (n, i + 1) in table.unsaved_formulas]
            if unsaved:
                where = coordinate(n, unsaved[0] + 1)
                raise RowError(
                    written[fields[unsaved[0]]],
                    f"单元格 {where} 是公式但没有保存的计算结果 has a formula with no saved value: "
                    "open the file in Excel/WPS and save it again",
                )
            by_field = {f: cells[i] if i < len(cells) else None for i, f in fields.items()}
            _add(result, form, by_field, ctx, raw, received_at, seen)
        except RowError as exc:
            result.dlq.append(_dlq(table.name, n, exc.column, str(exc), raw))
    return result


def _import_keyed(table: Table, canteen: str | None, received_at: datetime) -> ImportResult:
    keys: list[str] = []
    for _, cells, _ in table.rows[:50]:
        if isinstance(cells[0], dict):
            keys += [k for k in cells[0] if k not in keys]
    matched = match_form(list(keys))
    if matched is None:
        raise ImportRefused(f"{table.name}: 不认识的记录 the objects are no ledger, survey, rating or disclosure form")
    form, fields = matched
    result = ImportResult(table.name, form)
    written = {f: keys[i] for i, f in fields.items()}
    by_key = {keys[i]: f for i, f in fields.items()}
    result.ignored_columns = [k for k in keys if k not in by_key and k not in ("direction", "school_id", "district")]
    seen: dict[str, int] = {}
    for n, (item,), raw in table.rows:
        ctx = RowContext(table.name, n, canteen, written)
        if not isinstance(item, dict):
            result.dlq.append(_dlq(table.name, n, None, "不是 JSON 对象 is not a JSON object", raw))
            continue
        by_field = {by_key[k]: v for k, v in item.items() if k in by_key}
        try:
            _add(result, form, by_field, ctx, raw, received_at, seen)
        except RowError as exc:
            result.dlq.append(_dlq(table.name, n, exc.column, str(exc), raw))
    return result


def _add(
    result: ImportResult,
    form: Form,
    cells: dict[str, Any],
    ctx: RowContext,
    raw: bytes,
    received_at: datetime,
    seen: dict[str, int],
) -> None:
    fields = form.build(cells, ctx)
    model = MODELS[form.name]
    try:
        record = model.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][0]) if err.get("loc") else None
        column = ctx.column(name) if name else None
        raise RowError(column, f"{column or '记录'}: {err['msg']}") from None
    identity = IDENTITY[form.name](fields)
    key = f"{fields['canteen_id']}/{identity}"
    if key in seen:
        raise RowError(None, f"{identity} 在第{seen[key]}行已出现 already appears in row {seen[key]}")
    seen[key] = ctx.row
    body = record.model_dump_json(exclude_none=True, exclude_defaults=False)
    result.envelopes.append(
        RawEnvelope(
            domain="canteen",
            source=SOURCES[form.name],  # type: ignore[arg-type]
            payload=body,
            received_at=received_at,
            gateway="ledger-import",
            key=str(fields["canteen_id"]),
        )
    )


def _dlq(file: str, row: int, column: str | None, reason: str, raw: bytes) -> DlqRecord:
    where = f"{file} 第{row}行 row {row}" + (f"，列「{column}」column {column}" if column else "")
    return DlqRecord.of("canteen", "import", f"{where}: {reason}", raw, file, row)


def _header(table: Table) -> tuple[int, Form, dict[int, str]]:
    """The header row's position among the table's rows, its form and column index → field."""
    for position, (_, cells, _) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        matched = match_form(cells)
        if matched is not None:
            return position, *matched
    raise ImportRefused(
        f"{table.name}: 前{HEADER_SEARCH_ROWS}行里没有找到表头 no header row among the first {HEADER_SEARCH_ROWS} rows "
        "(a ledger needs 日期 date, 类别 category, 金额 amount)"
    )


def _repeated(cells: list[Any], form: Form) -> str | None:
    seen: set[str] = set()
    for cell in cells:
        found = form.field_of(cell)
        if found is None:
            continue
        if found in seen:
            return str(cell)
        seen.add(found)
    return None


def _check_header_merges(table: Table, header_row: int) -> None:
    for min_col, min_row, max_col, max_row in table.merged:
        if min_row <= header_row <= max_row and (max_col > min_col or max_row > min_row):
            span = f"{coordinate(min_row, min_col)}:{coordinate(max_row, max_col)}"
            raise ImportRefused(
                f"{table.name}: 表头第{header_row}行有合并单元格 {span} the header row has merged cells; "
                "unmerge them so that each column has its own name"
            )


def envelope_lines(result: ImportResult) -> list[str]:
    return [e.model_dump_json() for e in result.envelopes]


def dlq_lines(result: ImportResult) -> list[str]:
    return [d.model_dump_json() for d in result.dlq]


def describe(result: ImportResult) -> dict[str, Any]:
    """A summary a person reads after an import."""
    return {
        "file": result.file,
        "form": result.form.name,
        "rows": result.rows,
        "records": len(result.envelopes),
        "refused": len(result.dlq),
        "title_rows": result.title_rows,
        "ignored_columns": result.ignored_columns,
    }
