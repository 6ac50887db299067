"""Files as schools keep them → rows of cells, each with its row number and its original bytes.

CSV as a spreadsheet exports it (UTF-8 with or without BOM, or GB18030/GBK as Chinese Excel writes
it; comma, semicolon or tab), XLSX (openpyxl, read-only: the first sheet, or the one named), and
JSON (an array of objects, `{"entries": [...]}`, or one object per line). A row's bytes are the
CSV line(s) as written, the JSON object's text, or for XLSX the row's cells as JSON text.

An XLSX is read as the person sees it: a formula cell gives the value the spreadsheet saved (and a
formula with no saved value is named, not read as empty), a cell merged over several data rows
(a date written once for a day's rows) fills each of them. `TableError` is one plain line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecampus.connectors.workbook import WorkbookRefused, Xlsx, open_xlsx


class TableError(ValueError):
    """A file we cannot read at all; str() is one plain line (Chinese, with English beside it)."""


@dataclass
class Table:
    """A file's rows: (row number as the person sees it, cells, original bytes)."""

    name: str
    kind: str  # csv, xlsx, json
    rows: list[tuple[int, list[Any], bytes]] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # (min_col, min_row, max_col, max_row)
    unsaved_formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, column) 1-based
    keyed: bool = False  # JSON objects: cells are one dict per row, keys are the headers


MAX_BYTES = 200 * 1024 * 1024


def read_table(path: Path, sheet: str | None = None) -> Table:
    """The rows of a ledger file; the kind is told by the extension (.csv, .xlsx, .json, .jsonl)."""
    if not path.is_file():
        raise TableError(f"文件不存在 {path} does not exist")
    if path.stat().st_size > MAX_BYTES:
        raise TableError(f"文件过大 {path} is larger than {MAX_BYTES // 1024 // 1024} MiB; split it by month")
    return read_data(path.name, path.read_bytes(), sheet)


def read_data(name: str, data: bytes, sheet: str | None = None) -> Table:
    """The rows of a file's bytes, read as `read_table` reads the file called `name`."""
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return read_csv(name, data)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(name, data, sheet)
    if suffix in (".json", ".jsonl"):
        return read_json(name, data)
    if suffix == ".xls":
        raise TableError(f"{name} 是旧版 .xls 格式 is an old .xls file: save it as .xlsx or .csv in Excel/WPS")
    raise TableError(f"{name}: 不认识的文件类型 unknown file type {suffix!r}; give .csv, .xlsx or .json")


def _decode(name: str, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:  # found by fuzzing (issue 10): it leaked out of the importers
            raise TableError(
                f"{name} 以 UTF-8 标记开头，但第 {exc.start + 4:,} 个字节不是 UTF-8 starts with a UTF-8 BOM, "
                f"but byte {exc.start + 4:,} is not UTF-8"
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(f"{name} 既不是 UTF-8 也不是 GBK 编码 is neither UTF-8 nor GBK text") from None


def read_csv(name: str, data: bytes) -> Table:
    text = _decode(name, data)
    sample = text[:4096]
    delimiter = max((",", ";", "\t", "，"), key=sample.count) if sample else ","
    lines = text.splitlines(keepends=True)
    table = Table(name, "csv")
    position = 0

    def feed() -> Iterator[str]:
        nonlocal position
        while position < len(lines):
            position += 1
            yield lines[position - 1]

    reader = csv.reader(feed(), delimiter=delimiter)
    first = 1
    try:
        for cells in reader:
            raw = "".join(lines[first - 1 : position]).rstrip("\r\n").encode("utf-8")
            if any(c.strip() for c in cells):
                table.rows.append((first, cells, raw))
            first = position + 1
    except csv.Error as exc:
        raise TableError(f"{name} 第{first}行 line {first}: CSV 格式错误 is not valid CSV ({exc})") from None
    return table


def read_json(name: str, data: bytes) -> Table:
    text = _decode(name, data).strip()
    table = Table(name, "json", keyed=True)
    try:
        parsed: Any = json.loads(text) if text.startswith(("[", "{")) and not _is_jsonl(text) else None
    except json.JSONDecodeError as exc:
        raise TableError(f"{name} 不是有效的 JSON is not valid JSON ({exc})") from None
    if parsed is None:  # one object per line: a bad line is that row's problem, not the file's
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    table.rows.append((n, [json.loads(line)], line.encode("utf-8")))
                except json.JSONDecodeError:
                    table.rows.append((n, [None], line.encode("utf-8")))
        return table
    if isinstance(parsed, dict):
        parsed = next((v for v in parsed.values() if isinstance(v, list)), [parsed])
    if not isinstance(parsed, list):
        raise TableError(f"{name}: JSON 应为对象数组 must be an array of objects")
    for n, item in enumerate(parsed, start=1):
        table.rows.append((n, [item], json.dumps(item, ensure_ascii=False).encode("utf-8")))
    return table


def _is_jsonl(text: str) -> bool:
    first, _, rest = text.partition("\n")
    if not rest.strip() or not first.strip().startswith("{"):
        return False
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


def read_xlsx(name: str, data: bytes, sheet: str | None = None) -> Table:
    try:
        with open_xlsx(name, data) as xlsx:
            ws = xlsx.sheet(sheet)
            table = Table(name, "xlsx")
            index = xlsx.book.sheetnames.index(ws.title)
            table.merged, table.unsaved_formulas = _sheet_xml_facts(xlsx, index)
            fill = _merged_fill(table.merged)
            for n, values in xlsx.rows(ws):
                for col, source in fill.get(n, {}).items():
                    while len(values) < col:
                        values.append(None)
                    if values[col - 1] is None:
                        values[col - 1] = ("merged", source)
                if any(v is not None and str(v).strip() for v in values):
                    shown = {"sheet": ws.title, "row": n, "cells": [_shown(v) for v in values]}
                    raw = json.dumps(shown, ensure_ascii=False)
                    table.rows.append((n, values, raw.encode("utf-8")))
    except WorkbookRefused as exc:
        raise TableError(str(exc)) from None
    _resolve_merged(table)
    return table


def _shown(value: Any) -> Any:
    if isinstance(value, tuple):
        return None
    return value if isinstance(value, int | float | str) or value is None else str(value)


def _merged_fill(merged: list[tuple[int, int, int, int]]) -> dict[int, dict[int, tuple[int, int]]]:
    """Row → {column: the merged range's top-left (row, column)} for every covered cell but the top-left,
    of ranges over several rows (a value written once for a day's rows); a title across columns stays one cell."""
    fill: dict[int, dict[int, tuple[int, int]]] = {}
    for min_col, min_row, max_col, max_row in merged:
        if max_row == min_row:
            continue
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                if (r, c) != (min_row, min_col):
                    fill.setdefault(r, {})[c] = (min_row, min_col)
    return fill


def _resolve_merged(table: Table) -> None:
    """Cells covered by a merge take the top-left cell's value (read-only mode gives them nothing)."""
    by_row = {n: cells for n, cells, _ in table.rows}
    for _, cells, _ in table.rows:
        for i, value in enumerate(cells):
            if isinstance(value, tuple) and value and value[0] == "merged":
                row, col = value[1]
                source = by_row.get(row, [])
                cells[i] = source[col - 1] if col - 1 < len(source) else None


_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')
_SAVED = re.compile(rb"<v>[^<]+</v>")
_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_SHEET = re.compile(r"xl/worksheets/sheet(\d{1,6})\.xml")


def _sheet_xml_facts(xlsx: Xlsx, index: int) -> tuple[list[tuple[int, int, int, int]], set[tuple[int, int]]]:
    """Merged ranges (within the row and column limits) and formula cells without a saved value, read
    from the sheet's XML (read-only openpyxl shows neither), in one pass over it."""
    from openpyxl.utils.cell import column_index_from_string as column

    sheets = sorted((int(f.group(1)), n) for n in xlsx.archive.namelist() if (f := _SHEET.fullmatch(n)))
    if index >= len(sheets):
        return [], set()
    xml = xlsx.archive.read(sheets[index][1])  # at most [limits] xlsx_max_entry_bytes, checked on opening
    rows, columns = xlsx.limits.xlsx_max_rows + 1, xlsx.limits.xlsx_max_columns + 1
    merged: list[tuple[int, int, int, int]] = []
    covered = 0
    for m in _MERGE.finditer(xml):
        c1, c2 = sorted((column(m.group(1).decode()), column(m.group(3).decode())))
        r1, r2 = sorted((int(m.group(2)), int(m.group(4))))
        if r1 > rows or c1 > columns:
            continue
        merged.append((c1, r1, min(c2, columns), min(r2, rows)))
        covered += (min(r2, rows) - r1 + 1) * (min(c2, columns) - c1 + 1) if r2 > r1 else 0
        if covered > xlsx.limits.xlsx_max_merged_cells:
            raise WorkbookRefused(
                f"{xlsx.name} 合并单元格过多 its merged ranges cover more than {xlsx.limits.xlsx_max_merged_cells:,} "
                "cells ([limits] xlsx_max_merged_cells)"
            )
    unsaved: set[tuple[int, int]] = set()
    if b"<f" in xml:
        for m in _CELL.finditer(xml):  # each cell's body ends at its </c> or at the next cell: one pass
            stop = xml.find(b"<c ", m.end())
            stop = len(xml) if stop < 0 else stop
            close = xml.find(b">", m.end(), stop)
            if close < 0 or xml[close - 1 : close] == b"/":
                continue
            end = xml.find(b"</c>", close, stop)
            body = xml[close + 1 : end if end >= 0 else stop]
            if b"<f" in body and not _SAVED.search(body):
                unsaved.add((int(m.group(2)), column(m.group(1).decode())))
    return merged, unsaved


def coordinate(row: int, column: int) -> str:
    from openpyxl.utils.cell import get_column_letter

    return f"{get_column_letter(column)}{row}"
