"""A progress file → store rows, and the rows we could not use → DLQ records (docs/progress-records.md).

    result = import_progress(Path("项目节点.xlsx"), places)
    result.rows    # MilestoneRow dicts (or certificates, hall visits, alarm tests), checked against the registry
    result.dlq     # one per bad row: file, row, column, reason, the row's original bytes

Files are read by the canteen importer's `read_table` (CSV in UTF-8 or GBK, XLSX, JSON), the header found
below title rows, the form told by its columns, as `import canteen` does. A column that would carry a
person's name refuses the whole file: a teacher is given by an id, hashed with a salt here, or as the hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from safecampus.connectors.canteen.forms import Form, RowContext, RowError, header_key
from safecampus.connectors.canteen.tables import Table, TableError, read_data, read_table
from safecampus.connectors.progress.forms import NAME_COLUMNS, Places, match
from safecampus.connectors.registry import RegistryView
from safecampus.connectors.store import upsert
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.progress import PROGRESS_TABLES

HEADER_SEARCH_ROWS = 10


class ImportRefused(ValueError):
    """The whole file cannot be imported; str() is one plain line."""


@dataclass
class ProgressImport:
    file: str
    form: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    dlq: list[DlqRecord] = field(default_factory=list)

    def save(self, engine: Engine) -> int:
        """Upsert the rows into the store (a file imported twice changes nothing)."""
        return upsert(engine, PROGRESS_TABLES[self.form], self.rows)


def places_of(registry: RegistryView, salt: str = "", validity_years: int = 3) -> Places:
    districts = {d.district_id: d.district_id for d in registry.districts.values()}
    districts |= {d.name: d.district_id for d in registry.districts.values()}
    return Places({s.school_id: s.district_id for s in registry.schools.values()}, districts, salt, validity_years)


def import_progress(path: Path, places: Places, sheet: str | None = None) -> ProgressImport:
    """Read one file (see the module doc); raises `ImportRefused` when the file as a whole is unusable."""
    try:
        table = read_table(path, sheet)
    except TableError as exc:
        raise ImportRefused(str(exc)) from None
    return import_table(table, places)


def import_progress_data(name: str, data: bytes, places: Places, sheet: str | None = None) -> ProgressImport:
    """The same for a file's bytes, its kind told by `name` (.csv, .xlsx, .json, .jsonl)."""
    try:
        table = read_data(name, data, sheet)
    except TableError as exc:
        raise ImportRefused(str(exc)) from None
    return import_table(table, places)


def import_table(table: Table, places: Places) -> ProgressImport:
    forms = places.forms()
    body: list[tuple[int, list[Any] | None, bytes]]
    if table.keyed:
        keys: list[str] = []
        for _, cells, _ in table.rows[:50]:
            if isinstance(cells[0], dict):
                keys += [k for k in cells[0] if k not in keys]
        body = [(n, [item.get(k) for k in keys] if isinstance(item, dict) else None, raw)
                for n, (item,), raw in table.rows]  # fmt: skip
        headers: list[Any] = list(keys)
    else:
        position = _header(table, forms)
        _, headers, _ = table.rows[position]
        body = [(n, list(cells), raw) for n, cells, raw in table.rows[position + 1 :]]
    named = [str(h) for h in headers if header_key(h) in NAME_COLUMNS]
    if named:
        raise ImportRefused(
            f"{table.name}: 列「{named[0]}」是人名 the column {named[0]!r} holds names, which are never kept; "
            "give 教师编号 teacher_id (hashed on import) instead"
        )
    matched = match(forms, headers)
    if matched is None:
        raise ImportRefused(_unknown(table.name))
    form, fields = matched
    written = {f: str(headers[i]).strip() for i, f in fields.items()}
    result = ProgressImport(table.name, form.name)
    keys_of = PROGRESS_TABLES[form.name].__table__.primary_key.columns  # type: ignore[attr-defined]
    seen: dict[tuple[Any, ...], int] = {}
    for n, given, raw in body:
        ctx = RowContext(table.name, n, None, written)
        try:
            if given is None:
                raise RowError(None, "不是 JSON 对象 is not a JSON object")
            by_field = {f: given[i] if i < len(given) else None for i, f in fields.items()}
            row = form.build(by_field, ctx)
            key = tuple(row[c.name] for c in keys_of)
            if key in seen:
                raise RowError(None, f"与第{seen[key]}行重复 repeats row {seen[key]}")
            seen[key] = n
            result.rows.append(row)
        except RowError as exc:
            result.dlq.append(_dlq(table.name, n, exc.column, str(exc), raw))
    return result


def _dlq(file: str, row: int, column: str | None, reason: str, raw: bytes) -> DlqRecord:
    where = f"{file} 第{row}行 row {row}" + (f"，列「{column}」column {column}" if column else "")
    return DlqRecord.of("plan", "import", f"{where}: {reason}", raw, file, row)


def _header(table: Table, forms: tuple[Form, ...]) -> int:
    for position, (_, cells, _) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        if match(forms, cells) is not None or any(header_key(c) in NAME_COLUMNS for c in cells):
            return position
    raise ImportRefused(_unknown(table.name))


def _unknown(name: str) -> str:
    return (
        f"{name}: 前{HEADER_SEARCH_ROWS}行里没有找到进度表的表头 no header of a progress form among the first rows "
        "(项目节点: 项目编号, 类别, 阶段, 日期; 救护员证书: 学校, 教师编号, 发证日期; "
        "体验馆参观: 学校, 班级, 参观日期, 人数; 一键报警测试: 学校, 测试日期) — see docs/progress-records.md"
    )
