"""Cell values as people write them in a school's ledger spreadsheet, read exactly.

Amounts become `Decimal` (never float): `1,234.50`, `¥512.4`, `￥1，234.50元`, full-width digits
`５１２．４０`, `RMB 30 000`, an accountant's `(120.00)` for a negative. Dates accept `2026-10-01`,
`2026/10/1`, `2026.10.01`, `2026年10月1日`, `20261001`, a spreadsheet's date cell and an Excel serial
number. Each parser raises `CellError` with a plain-words reason (Chinese, with English beside it).

    >>> parse_amount("¥1,234.50")
    Decimal('1234.50')
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from safecampus.schemas.common import SHANGHAI


class CellError(ValueError):
    """A cell we cannot read; str() is the plain-words reason."""


_CURRENCY = re.compile(r"^(?:RMB|CNY|人民币|¥|￥)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PLAIN = re.compile(r"^\d+(?:\.\d+)?$")
_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year; this absorbs that)
# No ledger entry comes near a trillion yuan; beyond it a cell is a typo or an attack, and Decimal's 28 digits
# could no longer round it to the fen (a 40-digit amount made `quantize` raise InvalidOperation).
_MAX_AMOUNT = Decimal(10) ** 12


def _text(value: object) -> str:
    """A cell as text, full-width forms folded to ASCII (NFKC: ５ → 5, ， → ,, ． → .)."""
    text = str(value)
    if not unicodedata.is_normalized("NFKC", text):  # the check is much cheaper than the fold
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


def parse_amount(value: object, what: str = "金额 amount", noun: tuple[str, str] = ("金额", "an amount")) -> Decimal:
    """An amount of yuan as written, exactly, below a trillion; `what` names the column in the reason, `noun` what
    it should be (a score is read the same way, but is not an amount)."""
    amount = _read_amount(value, what, noun)
    if not amount.is_finite():  # a spreadsheet's inf or NaN
        raise CellError(f"{what} 不是数字 is not a number (got {value!r})")
    if abs(amount) >= _MAX_AMOUNT:
        raise CellError(f"{what} 大得不合理 is implausibly large (got {str(value)[:40]!r})")
    return amount


def _read_amount(value: object, what: str, noun: tuple[str, str]) -> Decimal:
    if isinstance(value, bool):
        raise CellError(f"{what} 不是数字 is not a number (got {value!r})")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # a spreadsheet number: its shortest repr is what the person typed
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _PLAIN.match(value):  # most cells: plain digits, nothing to fold or strip
        return Decimal(value)
    text = _text(value)
    if not text:
        raise CellError(f"{what} 为空 is empty")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text.startswith("-"):
        negative, text = not negative, text[1:].strip()
    text = _CURRENCY.sub("", _CURRENCY.sub("", text)).strip()
    text = text.replace(" ", "").replace("\u00a0", "").replace("'", "")
    if "," in text and not _GROUPED.match(text):
        raise CellError(f"{what} 的千位分隔符位置不对 has misplaced thousands separators (got {value!r})")
    text = text.replace(",", "")
    if not _PLAIN.match(text):
        raise CellError(f"{what} 不是{noun[0]} is not {noun[1]} (got {value!r})")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise CellError(f"{what} 不是{noun[0]} is not {noun[1]} (got {value!r})") from None
    return -amount if negative else amount


def parse_count(value: object, what: str) -> int:
    """A whole number of people or items (`2`, `２`, `2人`, a spreadsheet's 2.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value).removesuffix("人").strip()
    if not text.isdigit():
        raise CellError(f"{what} 不是整数 is not a whole number (got {value!r})")
    return int(text)


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YM = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


def parse_date(value: object, what: str = "日期 date") -> date:
    """A booking date as written (see the module doc)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 20000 < value < 80000:
        return _EXCEL_EPOCH + timedelta(days=int(value))  # an Excel serial date in a text export
    text = _text(value)
    if not text:
        raise CellError(f"{what} 为空 is empty")
    match = _YMD.match(text.split(" ")[0].split("T")[0]) or _COMPACT.match(text)
    if match is None:
        raise CellError(f"{what} 不是日期 is not a date like 2026-10-01 (got {value!r})")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise CellError(f"{what} 不是有效日期 is not a valid date (got {value!r})") from None


def parse_month(value: object, what: str = "月份 month") -> str:
    """A month as YYYY-MM (`2026-10`, `2026年10月`, `2026/10`, or any date in that month)."""
    if isinstance(value, date):
        return f"{value:%Y-%m}"
    text = _text(value)
    match = _YM.match(text)
    if match and 1 <= int(match[2]) <= 12:
        return f"{int(match[1]):04d}-{int(match[2]):02d}"
    return f"{parse_date(value, what):%Y-%m}"


def parse_moment(value: object, what: str) -> datetime:
    """An instant: ISO 8601 with or without offset (local Shanghai time when none), or a date (its start)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    text = _text(value)
    try:
        moment = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        day = parse_date(value, what)
        return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
