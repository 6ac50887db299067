"""Hostile XLSX files through the three importers (canteen, fire, progress): zip bombs, too many entries,
oversized sheets and merged ranges, XML entities and external references, all refused in one plain line
before openpyxl inflates or parses them; a normal workbook still imported."""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl import Workbook

from safecampus.config import InputLimits
from safecampus.connectors import workbook
from safecampus.connectors.canteen import importer as canteen
from safecampus.connectors.fire import importer as fire
from safecampus.connectors.progress import importer as progress
from safecampus.connectors.registry import RegistryView
from safecampus.schemas import common
from safecampus.simulator.ledger_files import HEADER as LEDGER_HEADER

SHEET = "xl/worksheets/sheet1.xml"
ROWS = {  # a small good file of each importer
    "canteen": [
        LEDGER_HEADER,  # 日期, 食堂, 凭证号, 类别, 品名, 数量, 单位, 单价, 金额, 供应商, 发票号, 验收人数, 录入时间
        ["2026/10/1", "C0001", "V001", "食材", "大米", "120", "公斤", "4.27", "512.40", "SUP01", "INV1", "2", ""],
        ["2026/10/2", "C0001", "V002", "食材", "青菜", "10", "公斤", "5.5", "55.00", "SUP02", "INV2", "2", ""],
    ],
    "fire": [
        ["检查编号", "机构编号", "检查人角色", "检查类型", "检查时间", "检查项", "结果"],
        ["I-1", "T001", "巡查人员", "防火巡查", "2026-09-10 08:30", "C01", "合格"],
        ["I-1", "T001", "巡查人员", "防火巡查", "2026-09-10 08:30", "E01", "合格"],
    ],
    "progress": [
        ["学校", "测试日期", "公安接警", "到达分钟"],
        ["S0001", "2026-08-03", "是", "4.5"],
        ["S0002", "2026-08-04", "否", ""],
    ],
}
Importer = Callable[[Path], int]  # the number of records a file gave; ImportRefused when refused


@pytest.fixture(scope="module")
def importers(city_registry: RegistryView) -> dict[str, Importer]:
    places = progress.places_of(city_registry, "salt", 3)
    return {
        "canteen": lambda path: len(canteen.import_file(path).envelopes),
        "fire": lambda path: len(fire.import_file(path).envelopes),
        "progress": lambda path: len(progress.import_progress(path, places).rows),
    }


REFUSED = (canteen.ImportRefused, fire.ImportRefused, progress.ImportRefused)


def book(rows: list[list[Any]]) -> bytes:
    made = Workbook()
    for row in rows:
        made.active.append(row)
    out = io.BytesIO()
    made.save(out)
    return out.getvalue()


def rezip(
    data: bytes,
    path: Path,
    parts: dict[str, bytes] | None = None,
    streamed: tuple[str, Iterable[bytes]] | None = None,
    extra: int = 0,
) -> Path:
    """`data`'s workbook written to `path` with some parts replaced, one streamed (never held in memory)
    and `extra` tiny entries added."""
    parts = parts or {}
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            if streamed and name == streamed[0]:
                with out.open(name, "w", force_zip64=True) as handle:
                    for chunk in streamed[1]:
                        handle.write(chunk)
            else:
                out.writestr(name, parts.get(name, source.read(name)))
        for n in range(extra):
            out.writestr(f"xl/media/pad{n}.bin", b"")
    return path


def refusal(importer: Importer, path: Path) -> str:
    with pytest.raises(REFUSED) as caught:
        importer(path)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_a_normal_workbook_is_still_imported(kind: str, importers: dict[str, Importer], tmp_path: Path) -> None:
    path = tmp_path / "good.xlsx"
    path.write_bytes(book(ROWS[kind]))
    assert importers[kind](path) >= 1
    assert openpyxl.xml.DEFUSEDXML  # defusedxml is installed and openpyxl uses it


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Workbooks whose sheet is one cell of N MB of zeros (compressed about 1000×), written as a stream."""
    head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    made = {}
    for megabytes in (200, 20):
        zeros = (b"0" * (1 << 20) for _ in range(megabytes))
        body = [head + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>', *zeros]
        body.append(b"</t></is></c></row></sheetData></worksheet>")
        path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
        made[megabytes] = rezip(book(ROWS["canteen"]), path, streamed=(SHEET, body))
        assert path.stat().st_size < megabytes * 5_000  # under a 200th of what it inflates to
    return made


@pytest.mark.parametrize(("megabytes", "limit"), [(200, "xlsx_max_entry_bytes"), (20, "xlsx_max_ratio")])
@pytest.mark.parametrize("kind", sorted(ROWS))
def test_a_zip_bomb_is_refused_without_inflating_it(
    kind: str, megabytes: int, limit: str, bombs: dict[int, Path], importers: dict[str, Importer], tmp_path: Path
) -> None:
    """Refused by the sheet's declared size (200 MB) or its ratio (20 MB); memory stays far below either."""
    good = tmp_path / "good.xlsx"
    good.write_bytes(book(ROWS[kind]))
    importers[kind](good)  # every module the import needs is loaded before memory is traced
    tracemalloc.start()
    try:
        said = refusal(importers[kind], bombs[megabytes])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * (1 << 20) < megabytes * (1 << 20), peak
    assert "bomb.xlsx" in said and limit in said and "sheet1.xml" in said, said


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_a_workbook_with_too_many_entries_is_refused(kind: str, importers: dict[str, Importer], tmp_path: Path) -> None:
    parts = len(zipfile.ZipFile(io.BytesIO(book(ROWS[kind]))).namelist())
    many = rezip(book(ROWS[kind]), tmp_path / "many.xlsx", extra=1000)
    said = refusal(importers[kind], many)
    assert "压缩包条目过多" in said and "xlsx_max_entries" in said and f"{parts + 1000:,} zip entries" in said
    fewer = rezip(book(ROWS[kind]), tmp_path / "fewer.xlsx", extra=900)
    assert importers[kind](fewer) >= 1


def test_an_end_record_declaring_too_many_entries_is_refused_before_the_directory_is_read(tmp_path: Path) -> None:
    data = book(ROWS["canteen"])
    entries, size = workbook.declared_directory(data)
    assert entries == len(zipfile.ZipFile(io.BytesIO(data)).namelist()) and size > 46 * entries
    at = data.rfind(b"PK\x05\x06")
    forged = data[: at + 8] + struct.pack("<HHL", 60_000, 60_000, 60_000 * 46) + data[at + 16 :]
    with pytest.raises(workbook.WorkbookRefused, match="declares 60,000 zip entries"):
        workbook.check_archive("forged.xlsx", forged, InputLimits())
    many = rezip(data, tmp_path / "many.xlsx", extra=1000).read_bytes()  # an end record that says 5 entries:
    at = many.rfind(b"PK\x05\x06")  # zipfile reads the directory by its size, so the true count is seen
    understated = many[: at + 8] + struct.pack("<HH", 5, 5) + many[at + 12 :]
    assert workbook.declared_directory(understated)[0] == 5
    with pytest.raises(workbook.WorkbookRefused, match=f"holds {entries + 1000:,} zip entries"):
        workbook.check_archive("understated.xlsx", understated, InputLimits(xlsx_max_entries=1000))


def _without_dimension(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read(SHEET).decode()
    start = sheet.index("<dimension")
    return sheet[:start].encode() + sheet[sheet.index("/>", start) + 2 :].encode()


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_rows_and_columns_past_the_limits_refuse_the_file(
    kind: str, importers: dict[str, Importer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "_limits", InputLimits(xlsx_max_rows=2, xlsx_max_columns=20))
    declared = tmp_path / "declared.xlsx"  # the sheet's dimension says 3 rows
    declared.write_bytes(book(ROWS[kind]))
    assert "3 行 rows" in refusal(importers[kind], declared)
    hidden = rezip(book(ROWS[kind]), tmp_path / "hidden.xlsx", parts={SHEET: _without_dimension(book(ROWS[kind]))})
    assert "more than 2 rows" in refusal(importers[kind], hidden)
    wide_rows = [ROWS[kind][0], [*ROWS[kind][1], *["x"] * 30]]
    wide = rezip(book(wide_rows), tmp_path / "wide.xlsx", parts={SHEET: _without_dimension(book(wide_rows))})
    assert "row 2 goes past column 20" in refusal(importers[kind], wide)
    monkeypatch.setattr(common, "_limits", InputLimits(xlsx_max_rows=3, xlsx_max_columns=20))
    assert importers[kind](declared) >= 1


def test_a_sheet_declaring_the_whole_grid_is_refused_before_a_row_is_read(
    importers: dict[str, Importer], tmp_path: Path
) -> None:
    """Before the limits openpyxl padded every row to the declared 16,384 columns down to row 1,048,576."""
    data = book(ROWS["canteen"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read(SHEET).decode()
    grid = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', sheet)
    assert grid != sheet
    path = rezip(data, tmp_path / "grid.xlsx", parts={SHEET: grid.encode()})
    for kind in ("canteen", "fire"):
        assert "1,048,576 行 rows × 16,384 列 columns" in refusal(importers[kind], path)


def test_merged_ranges_covering_too_many_cells_refuse_the_ledger(tmp_path: Path) -> None:
    data = book(ROWS["canteen"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read(SHEET).decode()
    merged = sheet.replace(
        "</sheetData>", '</sheetData><mergeCells count="1"><mergeCell ref="M2:IV99999"/></mergeCells>'
    )
    path = rezip(data, tmp_path / "merged.xlsx", parts={SHEET: merged.encode()})
    with pytest.raises(canteen.ImportRefused, match="xlsx_max_merged_cells"):
        canteen.import_file(path)


ENTITIES = {  # part, the DOCTYPE put before its root element, the reference put in a cell
    "billion laughs in the sheet": (
        SHEET,
        '<!DOCTYPE worksheet [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        "&b;",
    ),
    "an external entity in the sheet": (SHEET, '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "{secret}">]>', "&x;"),
    "an external entity in the workbook": (
        "xl/workbook.xml",
        '<!DOCTYPE workbook [<!ENTITY x SYSTEM "{secret}">]>',
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(ENTITIES))
@pytest.mark.parametrize("kind", sorted(ROWS))
def test_xml_entities_and_external_references_are_refused(
    kind: str, case: str, importers: dict[str, Importer], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-7f3a", encoding="utf-8")
    part, doctype, use = ENTITIES[case]
    data = book(ROWS[kind])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(part).decode()
    cell = f'<row r="99"><c r="A99" t="inlineStr"><is><t>{use}</t></is></c></row>'
    xml = xml.replace("</sheetData>", cell + "</sheetData>") if use else xml
    prolog, _, root = xml.rpartition("?>")  # openpyxl writes no XML declaration: then the DOCTYPE comes first
    hostile = (prolog + "?>" if prolog else "") + doctype.format(secret=secret.as_uri()) + root
    path = rezip(data, tmp_path / "entity.xlsx", parts={part: hostile.encode()})
    said = refusal(importers[kind], path)
    assert "含有 XML 实体声明或外部引用 declares XML entities or external references" in said, said
    assert "SECRET" not in said


def test_no_workbook_is_read_when_openpyxl_would_parse_without_defusedxml(
    importers: dict[str, Importer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ElementTree

    from openpyxl.worksheet import _reader

    path = tmp_path / "good.xlsx"
    path.write_bytes(book(ROWS["fire"]))
    monkeypatch.setattr(_reader, "iterparse", ElementTree.iterparse)
    assert "defusedxml" in refusal(importers["fire"], path)


def test_the_cli_refuses_a_zip_bomb_in_one_line(bombs: dict[int, Path], city_store: str, tmp_path: Path) -> None:
    """`safecampus import canteen|fire|progress bomb.xlsx`: exit non-zero, one line on stderr, no traceback."""
    safecampus = Path(sys.executable).with_name("safecampus")
    for command in (
        ["canteen", str(bombs[20]), "--out", str(tmp_path / "raw.jsonl")],
        ["fire", str(bombs[20]), "--out", str(tmp_path / "raw.jsonl")],
        ["progress", str(bombs[20]), "--store", city_store],
    ):
        done = subprocess.run([str(safecampus), "import", *command], capture_output=True, text=True, check=False)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode != 0 and len(lines) == 1, done.stderr
        assert "error:" in lines[0] and "疑似压缩炸弹" in lines[0] and "xlsx_max_ratio" in lines[0], lines
    assert not (tmp_path / "raw.jsonl").exists()
