"""Report files (JSON for other tools, CSV, XLSX with real numbers), the open data with its Table Schema
(`frictionless validate` passes), and the user's path: import a ledger file, replay it, report a month."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from openpyxl import load_workbook

from safecampus.canteen.data import CanteenData
from safecampus.canteen.files import report_bytes, write_open_data
from safecampus.canteen.html import audit_html, disclosure_html
from safecampus.canteen.kpis import DISCLOSURE_STATUSES, audit_kpis, disclosure_status
from safecampus.pipelines.canteen.book import CanteenBook
from safecampus.schemas.canteen_forms import SupplierRating
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.ledger_files import write_ledger_files
from safecampus.simulator.run import Simulation

BIN = Path(sys.executable).parent
REQUIRED = {"canteen", "month", "income_cny", "cost_cny", "surplus_cny", "surplus_rate", "ingredient_share",
            "subsidy_granted_cny", "subsidy_received_cny", "red_flags"}  # fmt: skip


def test_the_json_report_carries_the_statement_and_red_flags_with_evidence(canteen_data: CanteenData) -> None:
    short = next(a for a in canteen_data.audit.alerts if a.rule == "canteen.subsidy_short")
    view = json.loads(report_bytes(canteen_data, short.subject, "2026-09", "json", "auditor"))
    assert set(view) >= REQUIRED
    assert Decimal(view["subsidy_received_cny"]) == Decimal(view["subsidy_granted_cny"]) * Decimal("0.8")
    flag = next(f for f in view["red_flags"] if f["rule"] == "canteen.subsidy_short")
    assert any(e.get("category") == "fiscal_subsidy" for e in flag["evidence"])
    income = sum(Decimal(v) for v in view["income_by_source"].values())
    assert income == Decimal(view["income_cny"])
    assert Decimal(view["income_cny"]) - Decimal(view["cost_cny"]) == Decimal(view["surplus_cny"])


def test_xlsx_has_a_sheet_per_section_with_numbers_not_text(canteen_data: CanteenData, tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(report_bytes(canteen_data, "C0001", "2026-09", "xlsx", "auditor"))
    book = load_workbook(path)
    assert book.sheetnames == ["收支汇总", "收入", "支出", "近12个月", "满意度", "供应商评价", "风险提示"]
    values = {row[0].value: row[1] for row in book["收支汇总"].iter_rows(min_row=2)}
    statement = canteen_data.statement("C0001", "2026-09", "auditor")
    income, rate = values["收入合计"], values["结余率"]
    assert Decimal(str(income.value)) == statement.income_cny and income.number_format == "#,##0.00"
    assert Decimal(str(rate.value)) == statement.surplus_rate and rate.number_format == "0.00%"
    amounts = [row[2].value for row in book["支出"].iter_rows(min_row=2)]
    assert all(isinstance(a, int | float) for a in amounts)
    assert sum(Decimal(str(a)) for a in amounts) == statement.cost_cny


def test_csv_report_opens_in_excel_as_chinese(canteen_data: CanteenData) -> None:
    data = report_bytes(canteen_data, "C0001", "2026-09", "csv", "public")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["部分 section", "项目 item", "数值 value"] and rows[2][:2] == ["汇总", "收入合计"]


def test_open_data_validates_against_its_table_schema(canteen_data: CanteenData, tmp_path: Path) -> None:
    package = write_open_data(canteen_data, tmp_path / "open")
    rows = list(csv.DictReader((tmp_path / "open" / "statements.csv").open(encoding="utf-8")))
    assert rows and {r["month"] for r in rows} == {"2026-09"}  # published months only
    schema = json.loads((tmp_path / "open" / "statements.schema.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in schema["fields"]] == list(rows[0]) and all(f.get("title") for f in schema["fields"])
    proc = subprocess.run(
        [str(BIN / "frictionless"), "validate", str(package)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "VALID" in proc.stdout.upper()


def _run(*args: str, cwd: Path) -> str:
    proc = subprocess.run([str(BIN / "safecampus"), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_import_replay_report_as_a_user_would(canteen_weeks: Simulation, tmp_path: Path) -> None:
    """safecampus import canteen ledger.csv --out raw.jsonl; replay canteen; report canteen … --format json."""
    (csv_file,) = write_ledger_files(canteen_weeks.raw_file("canteen"), tmp_path, canteen="C0001", xlsx=False)
    store = f"sqlite:///{tmp_path / 'safecampus.db'}"
    _run("registry", "load", str(canteen_weeks.out_dir / "registry"), "--store", store, cwd=tmp_path)
    said = _run("import", "canteen", "ledger.csv", "--out", "raw.jsonl", cwd=tmp_path)
    assert "0 行不能用" in said
    _run("replay", "canteen", "--input", "raw.jsonl", "--out", "o", "--store", store, cwd=tmp_path)
    _run("report", "canteen", "--canteen", "C0001", "--month", "2026-10", "--format", "json", "--out", "r.json",
         "--store", store, cwd=tmp_path)  # fmt: skip
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    october = [r for r in csv.DictReader(csv_file.open(encoding="utf-8-sig")) if r["日期"].startswith("2026-10")]
    income = sum(
        Decimal(r["金额"].replace(",", "")) for r in october if r["类别"] in ("伙食费", "财政补助", "其他收入")
    )
    cost = sum(Decimal(r["金额"].replace(",", "")) for r in october) - income
    assert (report["canteen"], report["month"], report["status"]) == ("C0001", "2026-10", "draft")
    assert Decimal(report["income_cny"]) == income and Decimal(report["cost_cny"]) == cost
    statements = [json.loads(line) for line in (tmp_path / "o" / "statements.jsonl").open(encoding="utf-8")]
    assert {s["month"] for s in statements} == {"2026-09", "2026-10"}
    kpis = [json.loads(line) for line in (tmp_path / "o" / "kpis.jsonl").open(encoding="utf-8")]
    assert {"canteen_surplus_rate", "canteen_disclosure_published", "canteen_red_flags_total"} <= {
        k["metric"] for k in kpis
    }


def _topic_values(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
    values: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(values) < expected:
        for records in consumer.poll(timeout_ms=500).values():
            values += [r.value for r in records]
    consumer.close()
    return values


@pytest.mark.integration
def test_import_to_kafka_sends_records_to_raw_canteen_and_bad_rows_to_the_dlq(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text('日期,类别,金额\n2026-10-01,伙食费,"1,800.00"\n2026-10-02,伙食费,很多\n', encoding="utf-8")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    _run("import", "canteen", "ledger.csv", "--canteen", "C0001", "--kafka", kafka_bootstrap,
         "--topic-prefix", prefix, cwd=tmp_path)  # fmt: skip
    (raw,) = _topic_values(kafka_bootstrap, f"{prefix}raw.canteen", 1)
    envelope = RawEnvelope.model_validate_json(raw)
    assert envelope.key == "C0001" and json.loads(envelope.payload)["amount_cny"] == "1800.00"
    (dead,) = _topic_values(kafka_bootstrap, f"{prefix}dlq", 1)
    record = DlqRecord.model_validate_json(dead)
    assert (
        record.source_offset == 3 and "很多" in record.reason and record.payload() == "2026-10-02,伙食费,很多".encode()
    )


def test_the_audit_gives_kpi_records_for_the_exporter(canteen_data: CanteenData) -> None:
    kpis = audit_kpis(canteen_data)
    published = {
        (k.labels["canteen"], k.labels["month"]): k.value for k in kpis if k.metric == "canteen_disclosure_published"
    }
    assert published[("C0001", "2026-09")] == 1.0 and published[("C0001", "2026-10")] == 0.0
    reopened = next(s for s in canteen_data.audit.statements if s.status == "reopened")
    assert published[(reopened.canteen_id, reopened.month)] == 0.5
    flags = [k for k in kpis if k.metric == "canteen_red_flags_total"]
    assert sum(k.value for k in flags) == len(canteen_data.audit.alerts) + len(canteen_data.audit.line_alerts)
    assert {"rule", "district"} == set(flags[0].labels)
    rates = {
        k.labels["canteen"]: k.value
        for k in kpis
        if k.metric == "canteen_surplus_rate" and k.labels["month"] == "2026-09"
    }
    assert rates["C0001"] == float(canteen_data.statement("C0001", "2026-09", "auditor").surplus_rate or 0)


def test_the_disclosure_status_of_each_canteen_month_is_the_audits_judgement(canteen_data: CanteenData) -> None:
    """One status per canteen month on the audit's clock (20 October): late and missing exactly where the audit
    raised `canteen.disclosure_late` / `disclosure_missing`, October not yet due; and the rates' parts."""
    kpis = audit_kpis(canteen_data)
    status = {(k.labels["canteen"], k.labels["month"]): k.labels["status"]
              for k in kpis if k.metric == "canteen_disclosure_status"}  # fmt: skip
    assert len(status) == len(canteen_data.audit.statements) and set(status.values()) <= set(DISCLOSURE_STATUSES)
    assert status[("C0001", "2026-09")] == "published" and status[("C0001", "2026-10")] == "not_yet_due"
    raised = {(a.subject, a.rule.removeprefix("canteen.disclosure_")) for a in canteen_data.audit.alerts
              if a.rule in ("canteen.disclosure_late", "canteen.disclosure_missing")}  # fmt: skip
    judged = {(c, s) for (c, m), s in status.items() if s in ("late", "missing")}
    assert judged == raised and {s for _, s in judged} == {"late", "missing"}
    draft = next(s for s in canteen_data.audit.statements if s.month == "2026-10")
    assert disclosure_status(draft, datetime(2026, 11, 15, 23, 59, tzinfo=SHANGHAI), 15) == "not_yet_due"
    assert disclosure_status(draft, datetime(2026, 11, 16, tzinfo=SHANGHAI), 15) == "missing"
    parts = {(k.metric, k.labels["canteen"]): k.value for k in kpis if k.labels.get("month") == "2026-09"}
    rate = parts[("canteen_month_surplus_cny", "C0001")] / parts[("canteen_month_income_cny", "C0001")]
    assert rate == pytest.approx(parts[("canteen_surplus_rate", "C0001")], abs=5e-5)
    share = parts[("canteen_month_ingredients_cny", "C0001")] / parts[("canteen_month_meal_fee_cny", "C0001")]
    assert share == pytest.approx(parts[("canteen_ingredient_share", "C0001")], abs=5e-5)


def test_the_auditors_report_shows_the_canteens_ratings_of_its_suppliers(canteen_data: CanteenData) -> None:
    when = datetime(2026, 10, 8, 18, tzinfo=SHANGHAI)
    rating = SupplierRating(canteen_id="C0001", supplier_id="SUP07", semester="2026-2027-1", score=Decimal("72.5"),
                            rated_on=date(2026, 10, 8), recorded_at=when)  # fmt: skip
    lines = [e for e in canteen_data.book.entries if e.canteen_id == "C0001"]
    published = canteen_data.book.disclosures[("C0001", "2026-09")]
    data = CanteenData.of(CanteenBook.of([*lines, published, rating]), canteen_data.registry)
    page = audit_html(data, "C0001", "2026-09")
    assert '<tr class="rating"><td>2026—2027学年第一学期</td><td>SUP07</td><td class="n">72.5</td></tr>' in page
    assert "SUP07" not in disclosure_html(data, "C0001", "2026-09")  # ratings are for auditors
    book = load_workbook(io.BytesIO(report_bytes(data, "C0001", "2026-09", "xlsx", "auditor")))
    (row,) = book["供应商评价"].iter_rows(min_row=2, values_only=True)
    assert row == ("2026-2027-1", "SUP07", 72.5)
