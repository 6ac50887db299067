"""Canteen files as schools keep them: CSV (UTF-8, GBK), XLSX (title rows, formulas, merged cells), JSON;
Chinese and English headers; amounts as people write them; bad rows to the DLQ with file, row, column, bytes."""

from __future__ import annotations

import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from safecampus.connectors.canteen.importer import ImportRefused, import_file
from safecampus.connectors.canteen.values import CellError, parse_amount, parse_date, parse_month
from safecampus.schemas.canteen import CanteenLedgerEntry

HEADER_ZH = [
    "日期",
    "食堂",
    "凭证号",
    "类别",
    "品名",
    "数量",
    "单位",
    "单价",
    "金额（元）",
    "供应商",
    "发票号",
    "验收人数",
]
HEADER_EN = [
    "date",
    "canteen",
    "entry_id",
    "category",
    "item",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "supplier",
    "invoice_no",
    "accepted_by_count",
]
GOOD = ["2026/10/1", "C0001", "V001", "食材", "大米", "120", "公斤", "4.27", "1,234.50", "SUP01", "INV1", "2"]


@pytest.mark.parametrize(
    ("written", "exact"),
    [
        ("1,234.50", "1234.50"),
        ("¥512.4", "512.4"),
        ("￥1，234.50元", "1234.50"),
        ("５１２．４０", "512.40"),
        ("RMB 30 000", "30000"),
        ("(120.00)", "-120.00"),
        (512.4, "512.4"),
        (7, "7"),
    ],
)
def test_amounts_as_people_write_them_are_exact(written: object, exact: str) -> None:
    assert parse_amount(written) == Decimal(exact)
    assert str(parse_amount(written)) == exact


@pytest.mark.parametrize("written", ["abc", "1,23.4", "", "12..5", "1.2.3"])
def test_unreadable_amounts_are_refused_in_plain_words(written: str) -> None:
    with pytest.raises(CellError, match="金额"):
        parse_amount(written)


@pytest.mark.parametrize("written", [1e308, "1" * 40, Decimal("1E+30"), 10**12, float("inf"), float("nan")])
def test_implausible_amounts_are_refused_not_raised_as_decimal_errors(written: object) -> None:
    """A 40-digit amount once made the ledger row's rounding check raise InvalidOperation."""
    with pytest.raises(CellError, match="金额 amount (大得不合理|不是数字)"):
        parse_amount(written)
    assert parse_amount("999,999,999,999.99") == Decimal("999999999999.99")


def test_dates_and_months_as_written() -> None:
    for written in ("2026-10-01", "2026/10/1", "2026.10.01", "2026年10月1日", "20261001", 46296):
        assert parse_date(written).isoformat() == "2026-10-01"
    assert parse_month("2026年10月") == parse_month("2026/10") == parse_month("2026-10-09") == "2026-10"
    with pytest.raises(CellError, match="不是有效日期"):
        parse_date("2026-02-30")


def _csv(tmp_path: Path, rows: list[list[str]], encoding: str = "utf-8-sig", name: str = "ledger.csv") -> Path:
    path = tmp_path / name
    lines = [",".join(f'"{c}"' if "," in c else c for c in row) for row in rows]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def test_csv_with_chinese_headers_and_a_bad_row(tmp_path: Path) -> None:
    bad = ["2026-10-02", "C0001", "V002", "食材", "猪肉", "10", "公斤", "28", "二十八", "SUP02", "INV2", "2"]
    fee = ["2026-10-02", "C0001", "V003", "伙食费", "", "300", "份", "6", "¥1,800.00", "", "", ""]
    path = _csv(tmp_path, [HEADER_ZH, GOOD, bad, fee])
    result = import_file(path)
    assert result.form.name == "ledger" and len(result.envelopes) == 2
    entry = CanteenLedgerEntry.model_validate_json(result.envelopes[0].payload)
    assert entry.amount_cny == Decimal("1234.50") and entry.booked_on.isoformat() == "2026-10-01"
    assert entry.category == "ingredients" and entry.direction == "expense" and entry.unit == "公斤"
    assert (entry.source_file, entry.source_row) == ("ledger.csv", 2)
    fee_entry = CanteenLedgerEntry.model_validate_json(result.envelopes[1].payload)
    assert fee_entry.direction == "income" and fee_entry.amount_cny == Decimal("1800.00")
    (dlq,) = result.dlq
    assert dlq.source_topic == "ledger.csv" and dlq.source_offset == 3 and dlq.step == "import"
    assert "第3行" in dlq.reason and "金额（元）" in dlq.reason and "二十八" in dlq.reason
    assert dlq.payload() == ",".join(bad).encode("utf-8")  # the row's bytes as the file has them


def test_csv_in_gbk_with_english_headers_and_the_canteen_given(tmp_path: Path) -> None:
    header = [h for h in HEADER_EN if h != "canteen"]
    row = [c for i, c in enumerate(GOOD) if i != 1]
    result = import_file(_csv(tmp_path, [header, row], encoding="gbk"), canteen="C0002")
    (envelope,) = result.envelopes
    entry = CanteenLedgerEntry.model_validate_json(envelope.payload)
    assert entry.canteen_id == "C0002" and entry.item == "大米" and envelope.key == "C0002"


def test_rows_of_another_canteen_or_category_are_refused(tmp_path: Path) -> None:
    other = [*GOOD[:1], "C0009", "V009", *GOOD[3:]]
    unknown = [*GOOD[:2], "V010", "宴请", *GOOD[4:]]
    result = import_file(_csv(tmp_path, [HEADER_ZH, other, unknown]), canteen="C0001")
    assert result.envelopes == [] and [d.source_offset for d in result.dlq] == [2, 3]
    assert "C0009" in result.dlq[0].reason and "宴请" in result.dlq[1].reason


def test_the_same_voucher_twice_in_a_file_is_refused_once(tmp_path: Path) -> None:
    result = import_file(_csv(tmp_path, [HEADER_ZH, GOOD, GOOD]))
    assert len(result.envelopes) == 1 and "第2行已出现" in result.dlq[0].reason


def test_a_file_without_a_header_is_refused_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match="没有找到表头"):
        import_file(_csv(tmp_path, [["a", "b"], ["1", "2"]]))
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportRefused, match=r"\.xlsx"):
        import_file(tmp_path / "old.xls")


def _save_with_cached_values(path: Path, cached: dict[str, str]) -> None:
    """openpyxl writes formulas without results; add the value a spreadsheet would have saved."""
    with zipfile.ZipFile(path) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in cached.items():
        sheet = re.sub(rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?', rf"\1\2<v>{value}</v>", sheet)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_xlsx_with_a_title_row_formulas_and_merged_dates(tmp_path: Path) -> None:
    book = Workbook()
    ws = book.active
    ws.append(["某某小学食堂2026年10月收支明细账"])
    ws.merge_cells("A1:L1")
    ws.append(HEADER_ZH)
    ws.append([None, "C0001", "V001", "食材", "大米", 120, "公斤", 4.27, "=F3*H3", "SUP01", "INV1", 2])
    ws.append([None, "C0001", "V002", "伙食费", None, 300, "份", 6, 1800, None, None, None])
    ws.append(["2026-10-02", "C0001", "V003", "食材", "青菜", 10, "公斤", 5.5, "=F5*H5", "SUP02", "INV3", 2])
    ws["A3"] = "2026-10-01"
    ws.merge_cells("A3:A4")  # the date written once for the day's two rows
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    _save_with_cached_values(path, {"I3": "512.4"})  # I5's formula has no saved value
    result = import_file(path)
    assert result.title_rows == 1
    entries = [CanteenLedgerEntry.model_validate_json(e.payload) for e in result.envelopes]
    assert [(e.entry_id, e.booked_on.isoformat(), str(e.amount_cny)) for e in entries] == [
        ("V001", "2026-10-01", "512.40"),
        ("V002", "2026-10-01", "1800.00"),
    ]
    (dlq,) = result.dlq
    assert dlq.source_offset == 5 and "I5" in dlq.reason and "公式" in dlq.reason
    assert json.loads(dlq.payload())["cells"][2] == "V003"


def test_xlsx_with_merged_header_cells_is_refused_with_one_line(tmp_path: Path) -> None:
    book = Workbook()
    ws = book.active
    ws.append(HEADER_ZH)
    ws.append(GOOD)
    ws.merge_cells("I1:J1")
    path = tmp_path / "merged.xlsx"
    book.save(path)
    with pytest.raises(ImportRefused, match=r"合并单元格 I1:J1") as caught:
        import_file(path)
    assert "\n" not in str(caught.value)


def test_json_array_of_todays_form_and_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    today = {
        "entry_id": "E1",
        "canteen_id": "C0003",
        "booked_on": "2026-09-01",
        "direction": "expense",
        "category": "ingredients",
        "amount_cny": "512.40",
        "accepted_by_count": 2,
        "recorded_at": "2026-09-01T06:00:00+08:00",
    }
    (tmp_path / "a.json").write_text(json.dumps([today]), encoding="utf-8")
    (entry_env,) = import_file(tmp_path / "a.json").envelopes
    entry = CanteenLedgerEntry.model_validate_json(entry_env.payload)
    assert entry.recorded_at.isoformat() == "2026-09-01T06:00:00+08:00" and entry.amount_cny == Decimal("512.40")
    (tmp_path / "b.jsonl").write_text(json.dumps(today) + "\n{not json\n", encoding="utf-8")
    result = import_file(tmp_path / "b.jsonl")
    assert len(result.envelopes) == 1 and result.dlq[0].source_offset == 2
    assert result.dlq[0].payload() == b"{not json"


def test_surveys_ratings_and_disclosures_have_their_forms(tmp_path: Path) -> None:
    survey = _csv(
        tmp_path,
        [
            ["食堂", "学期", "调查对象", "调查日期", "样本数", "满意度"],
            ["C0001", "2026-2027学年第一学期", "家长", "2026-11-20", "130", "92%"],
            ["C0001", "2026秋", "学生", "2026-11-20", "300", "0.881"],
            ["C0001", "2026秋", "老师", "2026-11-20", "30", "90"],
        ],
        name="s.csv",
    )
    result = import_file(survey)
    assert result.form.name == "survey" and [e.source for e in result.envelopes] == ["canteen-survey-json"] * 2
    bodies = [json.loads(e.payload) for e in result.envelopes]
    assert [(b["semester"], b["respondents"], b["satisfaction"]) for b in bodies] == [
        ("2026-2027-1", "parents", "92.0"),
        ("2026-2027-1", "students", "88.1"),
    ]
    assert "老师" in result.dlq[0].reason
    rating = _csv(
        tmp_path,
        [
            ["食堂", "供应商", "学期", "评价日期", "评分"],
            ["C0001", "SUP01", "2026秋", "2026-11-20", "85"],
            ["C0001", "SUP02", "2026秋", "2026-11-20", "185"],
            ["C0001", "SUP03", "2026秋", "2026-11-20", "很好"],
        ],
        name="r.csv",
    )
    rated = import_file(rating)
    assert [e.source for e in rated.envelopes] == ["supplier-rating-json"]
    high, words = rated.dlq
    assert high.source_offset == 3 and "评分" in high.reason and "0–100" in high.reason
    assert words.source_offset == 4 and "不是数字 is not a number" in words.reason and "金额" not in words.reason
    disclosure = _csv(
        tmp_path,
        [["食堂", "月份", "公示时间"], ["C0001", "2026年10月", "2026-11-10 10:00"], ["C0001", "十月", "2026-11-10"]],
        name="d.csv",
    )
    disclosed = import_file(disclosure)
    body = json.loads(disclosed.envelopes[0].payload)
    assert body["month"] == "2026-10" and body["published_at"] == "2026-11-10T10:00:00+08:00"
    (bad,) = disclosed.dlq
    assert len(disclosed.envelopes) == 1 and bad.source_offset == 3 and "月份" in bad.reason and "十月" in bad.reason
