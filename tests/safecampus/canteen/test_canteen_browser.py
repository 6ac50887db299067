"""The auditors' report and a public page, opened in a real headless Chromium (Debian's, with fonts-noto-cjk):
the DOM holds the charts with the statement's figures, the screenshot shows the bars and the Chinese text,
and the printed PDF is A4 with the Noto CJK font embedded."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from safecampus.canteen.charts import COST, INCOME
from safecampus.canteen.data import CanteenData
from safecampus.canteen.html import audit_html, public_page_html

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]


def _run(chromium: str, *args: str) -> str:
    proc = subprocess.run([chromium, *FLAGS, *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class _Dom(HTMLParser):
    """The elements of the DOM Chromium dumped: (tag, attributes) in order, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _open(chromium: str, page: Path, tmp: Path) -> tuple[_Dom, Image.Image, bytes]:
    dom = _Dom()
    dom.feed(_run(chromium, "--dump-dom", page.as_uri()))
    shot = tmp / f"{page.stem}.png"
    _run(chromium, "--window-size=900,2200", f"--screenshot={shot}", page.as_uri())
    pdf = tmp / f"{page.stem}.pdf"
    _run(chromium, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    return dom, Image.open(shot).convert("RGB"), pdf.read_bytes()


def _pixels(image: Image.Image, colour: str, box: tuple[int, int, int, int] | None = None) -> int:
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    region = image.crop(box) if box else image
    return sum(n for n, rgb in region.getcolors(maxcolors=1 << 20) or [] if rgb == target)


def _dark(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(1 for r, g, b in image.crop(box).getdata() if r + g + b < 200)


def _bars(dom: _Dom, chart: str) -> dict[tuple[str, str], Decimal]:
    inside, bars = False, {}
    for tag, attrs in dom.elements:
        if tag == "svg":
            inside = attrs.get("data-chart") == chart
        elif inside and tag == "rect" and "data-value" in attrs:
            bars[(str(attrs["data-label"]), str(attrs["data-series"]))] = Decimal(str(attrs["data-value"]))
    return bars


def _a4_with_cjk_font(pdf: bytes) -> None:
    (box,) = set(re.findall(rb"MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf))
    assert abs(float(box[0]) - 595.3) < 1 and abs(float(box[1]) - 841.9) < 1  # A4 in points
    assert re.search(rb"/FontName /[A-Z]{6}\+NotoSansCJKsc", pdf), "the CJK text was not set in Noto Sans CJK"


def test_the_auditors_report_shows_charts_red_flags_and_chinese_text(
    chromium: str, canteen_data: CanteenData, tmp_path: Path
) -> None:
    reopened = next(s for s in canteen_data.audit.statements if s.status == "reopened")
    page = tmp_path / "audit.html"
    page.write_text(audit_html(canteen_data, reopened.canteen_id, reopened.month), encoding="utf-8")
    dom, shot, pdf = _open(chromium, page, tmp_path)
    text = "".join(dom.text)
    assert f"{reopened.month} 审计报告" in text and "报表已重新打开" in text and "公示后补录" in text
    bars = _bars(dom, "income_cost")
    label = reopened.month[2:]
    assert bars[(label, "收入")] == reopened.income_cny and bars[(label, "支出")] == reopened.cost_cny
    flags = [a for tag, a in dom.elements if tag == "div" and a.get("data-rule")]
    assert "canteen.statement_reopened" in {a["data-rule"] for a in flags}
    evidence = [a for tag, a in dom.elements if tag == "tr" and a.get("class") == "evidence"]
    assert len(evidence) >= len(reopened.late_entries) >= 1
    assert _pixels(shot, INCOME) > 2000 and _pixels(shot, COST) > 2000  # the bars are drawn
    assert _dark(shot, (80, 0, 600, 40)) > 500  # the title's glyphs are drawn (not blank, not boxes only)
    _a4_with_cjk_font(pdf)


def test_a_public_page_shows_published_months_charts_and_no_draft(
    chromium: str, canteen_data: CanteenData, tmp_path: Path
) -> None:
    canteen = "C0001"
    published = canteen_data.statements(canteen, "public")
    drafts = [s.month for s in canteen_data.statements(canteen, "auditor") if s.status == "draft"]
    assert published and drafts  # September is published, October is not yet
    page = tmp_path / "public.html"
    page.write_text(public_page_html(canteen_data, canteen), encoding="utf-8")
    dom, shot, pdf = _open(chromium, page, tmp_path)
    text = "".join(dom.text)
    assert "已公示的月度收支" in text and "收支公开" in text and published[-1].month in text
    assert not any(f"{month} 收支情况" in text for month in drafts)  # a draft month is never shown
    assert set(_bars(dom, "income_cost")) == {(s.month[2:], k) for s in published for k in ("收入", "支出")}
    assert any(tag == "circle" and a.get("data-value") for tag, a in dom.elements)  # the ingredient-share line
    assert _pixels(shot, INCOME) > 2000
    _a4_with_cjk_font(pdf)
