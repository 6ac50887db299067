"""`safecampus report fire`: the JSON form's figures, the ledger as the replay made it, the XLSX workbook with its
chart, and the HTML page opened in a real headless Chromium (DOM, screenshot, PDF)."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from conftest import FireRun
from openpyxl import load_workbook
from PIL import Image

from safecampus.schemas.fire import FireLedger

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]


def report(store: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "safecampus.cli", "report", "fire", "--store", store, "--out", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


def test_the_json_report_carries_the_districts_figures_and_the_replays_ledger(
    fire_run: FireRun, fire_store: str, tmp_path: Path
) -> None:
    done = report(fire_store, tmp_path / "r.json", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    districts = {d["district_id"]: d for d in data["districts"]}
    assert len(districts) == 8  # seven districts and the unregistered institution
    for d in districts.values():
        assert {"compliance_rate", "open_findings", "overdue_findings", "ledger"} <= d.keys()
        assert d["open_findings"] == sum(1 for r in d["ledger"] if r["closed_at"] is None)
    rates = [d["compliance_rate"] for d in data["districts"] if d["district_id"] != "unregistered"]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) > 1
    replayed = [FireLedger.model_validate(x) for x in map(json.loads, (fire_run.out / "ledger.jsonl").open())]
    ledger_ids = sorted(r.finding_id for x in replayed for r in x.rows)
    assert sorted(r["finding_id"] for d in data["districts"] for r in d["ledger"]) == ledger_ids  # same ledger
    assert "各区托育机构消防合规率" in done.stdout and "Districts by fire-safety compliance" in done.stdout
    assert data["open_findings_by_day"][0]["day"] == "2026-09-01" and data["open_findings_by_day"][-1]["open"] > 0


def test_one_district_by_name_and_a_district_that_does_not_exist(fire_store: str, tmp_path: Path) -> None:
    done = report(fire_store, tmp_path / "z.json", "--format", "json", "--district", "钟楼区")
    assert done.returncode == 0, done.stderr
    (only,) = json.loads((tmp_path / "z.json").read_text(encoding="utf-8"))["districts"]
    assert only["district_id"] == "zhonglou" and all(r["district"] == "zhonglou" for r in only["ledger"])
    wrong = report(fire_store, tmp_path / "x.json", "--format", "json", "--district", "浦东新区")
    assert wrong.returncode == 2 and "no district '浦东新区'" in wrong.stderr and "Traceback" not in wrong.stderr


def test_the_xlsx_ledger_has_a_sheet_per_district_and_a_chart(fire_store: str, tmp_path: Path) -> None:
    done = report(fire_store, tmp_path / "r.xlsx", "--format", "xlsx")
    assert done.returncode == 0, done.stderr
    book = load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames[0] == "各区合规情况" and "钟楼区台账" in book.sheetnames
    zhonglou = book["钟楼区台账"]
    assert [c.value for c in zhonglou[1]][:3] == ["隐患编号", "检查项", "类别"] and zhonglou.max_row > 1
    chart = book["未销号隐患变化"]
    assert len(chart._charts) == 1 and chart.max_row > 30  # one row a day  # type: ignore[attr-defined]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _chromium(chromium: str, *args: str) -> str:
    done = subprocess.run([chromium, *FLAGS, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_html_ledger_in_headless_chromium(chromium: str, fire_store: str, tmp_path: Path) -> None:
    page = tmp_path / "整改台账.html"
    done = report(fire_store, page, "--format", "html")
    assert done.returncode == 0, done.stderr
    dom = _Dom()
    dom.feed(_chromium(chromium, "--dump-dom", page.as_uri()))
    text = "".join(dom.text)
    assert "托育机构消防安全整改台账" in text and "钟楼区 整改台账" in text and "逾期未整改" in text
    assert "T015" in text and "已整改，已确认销号" in text and "已整改，待确认销号" in text
    (line,) = [a for tag, a in dom.tags if tag == "polyline"]
    assert len((line["points"] or "").split()) >= 40  # a point a day
    shot = tmp_path / "shot.png"
    _chromium(chromium, "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri())
    image = Image.open(shot).convert("RGB")
    red = sum(1 for r, g, b in image.getdata() if r > 170 and g < 90 and b < 80)  # the chart's line, the rules
    dark = sum(1 for r, g, b in image.getdata() if r + g + b < 200)  # the Chinese text, drawn
    assert red > 500 and dark > 20_000
    pdf = tmp_path / "page.pdf"
    _chromium(chromium, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.read_bytes().startswith(b"%PDF") and b"NotoSansCJK" in pdf.read_bytes()


def test_import_fire_turns_an_export_into_a_replay_file(tmp_path: Path) -> None:
    export = tmp_path / "巡查.csv"
    export.write_text(
        "检查编号,机构编号,检查类型,检查时间,检查项,结果\n"
        "I-1,T001,防火巡查,2026-09-10 08:30,C01,合格\n"
        ",T001,巡查,x,C02,合格\n",
        encoding="utf-8",
    )
    out = tmp_path / "raw" / "fire.jsonl"
    command = [sys.executable, "-m", "safecampus.cli", "import", "fire", str(export), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert (
        json.loads(line)["source"] == "inspection-csv" and "1 份检查记录 inspections，1 行不能用 refused" in done.stdout
    )
    assert "row 3 has no 检查编号" in (tmp_path / "raw" / "fire.dlq.jsonl").read_text(encoding="utf-8")
