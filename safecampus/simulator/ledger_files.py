"""The simulated canteen ledgers as the files schools keep: CSV and XLSX with Chinese headers, one row per line.

    write_ledger_files(sim.raw_file("canteen"), out_dir)   # → ledger.csv, ledger.xlsx (title row on top)

Used by the importer's benchmark and the end-to-end test (`safecampus import canteen ledger.csv …`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from safecampus.schemas.canteen_forms import CATEGORY_TITLES

HEADER = [
    "日期",
    "食堂",
    "凭证号",
    "类别",
    "品名",
    "数量",
    "单位",
    "单价",
    "金额",
    "供应商",
    "发票号",
    "验收人数",
    "录入时间",
]
FIELDS = ["booked_on", "canteen_id", "entry_id", "category", "item", "quantity", "unit", "unit_price_cny", "amount_cny",
          "supplier_id", "invoice_no", "accepted_by_count", "recorded_at"]  # fmt: skip


def ledger_rows(raw_file: Path, canteen: str | None = None) -> Iterator[list[str]]:
    """The ledger lines of a raw replay file as spreadsheet rows (amounts with thousands separators)."""
    with raw_file.open(encoding="utf-8") as handle:
        for line in handle:
            envelope = json.loads(line)
            if envelope.get("source") != "ledger-json":
                continue
            body = json.loads(envelope["payload"])
            if canteen is not None and body["canteen_id"] != canteen:
                continue
            body["category"] = CATEGORY_TITLES[body["category"]]
            body["amount_cny"] = f"{float(body['amount_cny']):,.2f}"
            yield ["" if body.get(f) is None else str(body[f]) for f in FIELDS]


def write_ledger_files(raw_file: Path, out_dir: Path, canteen: str | None = None, xlsx: bool = True) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = list(ledger_rows(raw_file, canteen))
    written = [out_dir / "ledger.csv"]
    with written[0].open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("明细账")
        sheet.append(["食堂收支明细账（模拟）"])
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        written.append(out_dir / "ledger.xlsx")
        book.save(written[1])
    return written
