"""XLSX files someone sent us: the zip checked before openpyxl reads any XML, rows and columns capped.

    with open_xlsx("台账.xlsx", data) as xlsx:   # WorkbookRefused: one plain line, Chinese with English
        ws = xlsx.sheet(None)                     # the named sheet, or the first
        for n, values in xlsx.rows(ws): ...       # (row number, cell values), from row 1

An XLSX is a zip of XML parts, so a small file can inflate to gigabytes. Before openpyxl opens it,
against config `[limits]` (each limit with its source): the number of entries and the size of the
central directory as the zip's end record declares them (read before zipfile parses the directory),
the entries zipfile found, each entry's declared inflated size (zipfile never inflates past it: a
longer stream fails its CRC), their total, and each entry's ratio of inflated to compressed size.
openpyxl must parse with defusedxml (entity declarations and external references refused), checked
before every file. A sheet whose dimension says it is larger than the row or column limit is refused,
and reading stops one past each limit: a value there refuses the file too, so nothing is cut quietly.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safecampus.schemas.common import input_limits

if TYPE_CHECKING:
    from safecampus.config import InputLimits

_END = b"PK\x05\x06"  # end of central directory record (22 bytes and a comment of up to 65,535)
_END64_LOCATOR, _END64 = b"PK\x06\x07", b"PK\x06\x06"  # zip64: a 20-byte locator after a 56-byte record
DIRECTORY_ENTRY_BYTES = 1024  # a central-directory entry is 46 bytes, its name and extra fields: ample
NOT_XLSX = " 不是有效的 XLSX 文件 is not a readable .xlsx file"


class WorkbookRefused(ValueError):
    """An XLSX file we will not read; str() is one plain line (Chinese, with English beside it)."""


def declared_directory(data: bytes) -> tuple[int, int]:
    """(entries, bytes of central directory) that the end record declares, the zip64 record's when it
    has one, as zipfile takes them; (0, 0) without an end record (then zipfile refuses the file)."""
    at = data.rfind(_END, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or at + 22 > len(data):
        return 0, 0
    entries, size = struct.unpack_from("<HL", data, at + 10)
    record = at - 20 - 56
    if record >= 0 and data[at - 20 : at - 16] == _END64_LOCATOR and data[record : record + 4] == _END64:
        entries, size = struct.unpack_from("<QQ", data, record + 32)
    return int(entries), int(size)


def check_archive(name: str, data: bytes, limits: InputLimits) -> zipfile.ZipFile:
    """The zip of an XLSX file, opened once its entries are within the limits (see the module doc)."""
    most = limits.xlsx_max_entries
    entries, directory = declared_directory(data)
    if entries > most or directory > most * DIRECTORY_ENTRY_BYTES:
        raise WorkbookRefused(
            f"{name} 压缩包条目过多 declares {entries:,} zip entries in {directory:,} bytes of directory, "
            f"above the limit of {most:,} ([limits] xlsx_max_entries)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises many kinds for bytes that are no zip
        raise _refusal(name, exc, NOT_XLSX) from None
    infos = archive.infolist()
    total = sum(info.file_size for info in infos)
    problem = None
    if len(infos) > most:
        problem = (
            f"压缩包条目过多 holds {len(infos):,} zip entries, above the limit of {most:,} ([limits] xlsx_max_entries)"
        )
    for info in infos:
        if problem:
            break
        size, part = info.file_size, repr(info.filename[:80])
        if size > limits.xlsx_max_entry_bytes:
            problem = (
                f"的 {part} 解压后过大 inflates to {size:,} bytes, above the limit of "
                f"{limits.xlsx_max_entry_bytes:,} ([limits] xlsx_max_entry_bytes)"
            )
        elif size > limits.xlsx_ratio_grace_bytes and size > limits.xlsx_max_ratio * max(info.compress_size, 1):
            problem = (
                f"的 {part} 压缩比异常（疑似压缩炸弹）inflates {size / max(info.compress_size, 1):,.0f}× "
                f"({info.compress_size:,} → {size:,} bytes), above {limits.xlsx_max_ratio:g}× "
                "([limits] xlsx_max_ratio): a zip bomb"
            )
    if problem is None and total > limits.xlsx_max_total_bytes:
        problem = (
            f"解压后总量过大 inflates to {total:,} bytes in all, above the limit of "
            f"{limits.xlsx_max_total_bytes:,} ([limits] xlsx_max_total_bytes)"
        )
    if problem:
        archive.close()
        raise WorkbookRefused(f"{name} {problem}")
    return archive


def check_parsers() -> None:
    """openpyxl parses the workbook and its sheets with defusedxml (it does when defusedxml is installed
    and OPENPYXL_DEFUSEDXML is not False); otherwise no XLSX file is read."""
    from openpyxl.reader import strings
    from openpyxl.worksheet import _reader
    from openpyxl.xml import functions

    for parse in (functions.fromstring, _reader.iterparse, strings.iterparse):
        if not str(getattr(parse, "__module__", "")).startswith("defusedxml"):
            raise WorkbookRefused(
                "openpyxl 未使用 defusedxml is not parsing with defusedxml (OPENPYXL_DEFUSEDXML=False?): "
                "XLSX files are not read"
            )


def _refusal(name: str, exc: Exception, where: str) -> WorkbookRefused:
    from defusedxml import DefusedXmlException

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, DefusedXmlException):
        cause = cause.__cause__ or cause.__context__  # openpyxl wraps a sheet's error in a ValueError
    if cause is not None:
        return WorkbookRefused(
            f"{name} 含有 XML 实体声明或外部引用 declares XML entities or external references "
            f"({type(cause).__name__}): refused"
        )
    return WorkbookRefused(f"{name}{where} ({type(exc).__name__})")


@dataclass
class Xlsx:
    """An opened, checked workbook (read-only openpyxl) and its zip, for the parts openpyxl does not show."""

    name: str
    archive: zipfile.ZipFile
    book: Any  # openpyxl.Workbook in read-only mode
    limits: InputLimits

    def sheet(self, wanted: str | None) -> Any:
        """The sheet named `wanted`, or the first; a chart sheet or a missing name refuses the file."""
        names = self.book.sheetnames
        if wanted is not None and wanted not in names:
            raise WorkbookRefused(f"{self.name} 没有工作表「{wanted}」 has no sheet {wanted!r}; it has {names!r}")
        chosen = self.book[wanted] if wanted is not None else next(iter(self.book.worksheets), None)
        if chosen is None or chosen not in self.book.worksheets:
            raise WorkbookRefused(f"{self.name} 没有可读的工作表 has no worksheet to read (sheets: {names!r})")
        return chosen

    def rows(self, ws: Any) -> Iterator[tuple[int, list[Any]]]:
        """(row number, values) from row 1, missing rows empty, each as wide as the sheet's dimension."""
        most_rows, most_columns = self.limits.xlsx_max_rows, self.limits.xlsx_max_columns
        if (ws.max_row or 0) > most_rows or (ws.max_column or 0) > most_columns:
            raise WorkbookRefused(self._too_large(f"{ws.max_row or 0:,} 行 rows × {ws.max_column or 0:,} 列 columns"))
        width = ws.max_column or most_columns + 1
        try:
            cells = ws.iter_rows(min_row=1, max_row=most_rows + 1, max_col=width, values_only=True)
            for n, row in enumerate(cells, start=1):
                values = list(row)
                if any(v is not None for v in values[most_columns:]):
                    past = f"第{n}行有超过 {most_columns:,} 列 row {n} goes past column {most_columns:,}"
                    raise WorkbookRefused(self._too_large(past))
                if n > most_rows and any(v is not None for v in values):
                    raise WorkbookRefused(self._too_large(f"超过 {most_rows:,} 行 more than {most_rows:,} rows"))
                if ws.max_column is None:
                    while values and values[-1] is None:
                        values.pop()
                yield n, values
        except WorkbookRefused:
            raise
        except Exception as exc:  # a damaged sheet inside a readable archive (found by fuzzing, issue 10)
            raise _refusal(self.name, exc, " 工作表无法读取 its sheet cannot be read") from None

    def _too_large(self, what: str) -> str:
        return (
            f"{self.name} 工作表过大 its sheet is too large ({what}); the limits are "
            f"{self.limits.xlsx_max_rows:,} rows and {self.limits.xlsx_max_columns:,} columns "
            "([limits] xlsx_max_rows, xlsx_max_columns): split the file"
        )


@contextmanager
def open_xlsx(name: str, data: bytes, limits: InputLimits | None = None) -> Iterator[Xlsx]:
    """The workbook in `data` (see the module doc); `WorkbookRefused`, one line, for a file it will not read."""
    limits = limits or input_limits()
    check_parsers()
    archive = check_archive(name, data, limits)
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        archive.close()
        raise _refusal(name, exc, NOT_XLSX) from None
    try:
        yield Xlsx(name, archive, book, limits)
    finally:
        book.close()
        archive.close()
