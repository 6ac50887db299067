"""`report certification` and `report plan` as a user runs them, over a store holding the simulated city's
registry, the security figures its pipeline computes from the registry, a week of childcare inspections
replayed, and the simulator's progress records imported: JSON, XLSX, and the HTML opened in headless
Chromium with its charts."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from safecampus.canteen.charts import INCOME
from safecampus.cli import app
from safecampus.config import Settings
from safecampus.connectors.registry import load_dir, load_view
from safecampus.connectors.store import StoreSink, engine_for
from safecampus.pipelines.detection import kpis_of
from safecampus.pipelines.replay import run_replay
from safecampus.pipelines.security.kpis import registry_counts, reporting_counts
from safecampus.simulator.city import build_city
from safecampus.simulator.run import simulate

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "local"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
runner = CliRunner()


@pytest.fixture(scope="module")
def store(_city_store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("plan")
    path = base / "safecampus.db"
    shutil.copyfile(_city_store_template, path)
    url = f"sqlite:///{path}"
    engine = engine_for(url)
    registry = load_view(engine)
    offline = {d.device_id for d in registry.devices.values() if d.school_id == "S0010"}  # a school gone dark
    counts = registry_counts(registry, Settings().security)
    counts |= reporting_counts(registry, set(registry.devices) - offline)
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 1, 3, tzinfo=UTC)
    StoreSink(url).write(kpis=kpis_of("security", counts, start, end))
    sim = simulate(base / "sim", days=7, domains=("fire",))
    load_dir(sim.out_dir / "registry", engine)  # the calendar dates and last inspections of this city
    run_replay([("fire", sim.raw_file("fire"), base / "fire")], Settings(), url, url)
    result = runner.invoke(app, ["import", "progress", *map(str, sorted((base / "sim" / "progress").glob("*.csv"))),
                                 "--store", url])  # fmt: skip
    assert result.exit_code == 0, result.output
    return url


def _json(store: str, tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["report", *args, "--store", store, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_each_county_says_what_it_lacks_naming_the_schools_the_registry_made_short(store: str, tmp_path: Path) -> None:
    report = _json(store, tmp_path, "certification")
    city = build_city()
    short = {a["subject"] for a in city.registry_anomalies if a["kind"] == "guards_short"}
    named = set()
    for county in report["counties"]:
        assert set(county) >= {"score", "passed", "missing"}
        for missing in county["missing"]:
            assert set(missing) >= {"indicator", "value", "threshold", "subjects"}
            if missing["indicator"] == "guards":
                named |= set(missing["subjects"])
                assert missing["value"] < missing["threshold"] == 1.0
    assert named == short  # every school short of guards, and no other
    uptime = {s["id"]: s for s in report["schools"]}["S0010"]
    assert "device_uptime" in {m["indicator"] for m in uptime["missing"]}
    scores = [c["score"] for c in report["counties"]]
    assert scores == sorted(scores, reverse=True) and 0 < min(scores) < 100


def test_one_county_and_a_district_that_does_not_exist(store: str, tmp_path: Path) -> None:
    report = _json(store, tmp_path, "certification", "--district", "钟楼区")
    assert [c["id"] for c in report["counties"]] == ["zhonglou"]
    assert {s["id"] for s in report["schools"]} == {s.school_id for s in build_city().schools
                                                     if s.district_id == "zhonglou"}  # fmt: skip
    county = {t["target"]: t for t in _json(store, tmp_path, "plan", "--district", "zhonglou")["targets"]}
    assert county["pickup_centres"]["number"] == 2  # its quota
    assert county["certified_counties"]["number"] == 1  # itself
    assert county["custom_bus_routes"]["number"] == county["custom_bus_routes"]["in_progress"] + county[
        "custom_bus_routes"]["late"] + county["custom_bus_routes"]["done"]  # fmt: skip
    result = runner.invoke(
        app, ["report", "plan", "--store", store, "--district", "火星区", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "没有这个区" in result.output


def test_the_plan_counts_projects_and_valid_certificates_as_of_the_day(store: str, tmp_path: Path) -> None:
    report = _json(store, tmp_path, "plan", "--as-of", "2026-09-01")
    by_id = {t["target"]: t for t in report["targets"]}
    assert by_id["pickup_centres"]["done"] == 8 and by_id["pickup_centres"]["number"] == 13
    halls = by_id["safety_halls"]
    assert halls["done"] == 3 and halls["late"] + halls["in_progress"] == 1
    assert sum(d["done"] for d in by_id["pickup_centres"]["districts"].values()) == 8
    engine = engine_for(store)
    from sqlmodel import Session, select

    from safecampus.schemas.progress import FirstAidCertificateRow

    with Session(engine) as session:
        certs = session.exec(select(FirstAidCertificateRow)).all()
    day = date(2026, 9, 1)
    valid = {c.teacher_hash for c in certs if c.issued_on <= day < c.expires_on}
    assert by_id["first_aiders"]["done"] == len(valid) > 0
    earlier = {t["target"]: t for t in _json(store, tmp_path, "plan", "--as-of", "2024-06-30")["targets"]}
    assert earlier["first_aiders"]["done"] < len(valid)  # fewer certificates had been issued by then
    assert by_id["certified_counties"]["late"] + by_id["certified_counties"]["done"] == 7


def test_the_workbooks_hold_numbers(store: str, tmp_path: Path) -> None:
    for kind, sheet in (("certification", "区县得分"), ("plan", None)):
        out = tmp_path / f"{kind}.xlsx"
        result = runner.invoke(app, ["report", kind, "--store", store, "--format", "xlsx", "--out", str(out)])
        assert result.exit_code == 0, result.output
        book = load_workbook(out)
        first = book[sheet] if sheet else book.worksheets[0]
        assert isinstance(first.cell(2, 3 if sheet else 7).value, int | float)
        assert first._charts  # the bar chart


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, list[tuple[str, str, float]]] = {}
        self._chart = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self._chart = a.get("data-chart") or ""
        elif tag == "rect" and "data-value" in a:
            self.bars.setdefault(self._chart, []).append((str(a["data-label"]), str(a["data-series"]),
                                                          float(str(a["data-value"]))))  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> str:
    proc = subprocess.run(["bash", str(DEPLOY / "chromium.sh")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _browse(chromium: str, page: Path, tmp_path: Path) -> tuple[_Dom, Image.Image]:
    dom = _Dom()
    done = subprocess.run([chromium, *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    dom.feed(done.stdout)
    shot = tmp_path / f"{page.stem}.png"
    subprocess.run([chromium, *FLAGS, "--window-size=900,1400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    return dom, Image.open(shot).convert("RGB")


def _blue(image: Image.Image) -> int:
    target = tuple(int(INCOME[i : i + 2], 16) for i in (1, 3, 5))
    return sum(n for n, rgb in image.getcolors(maxcolors=1 << 20) or [] if rgb == target)


def test_both_html_reports_show_their_charts_in_chromium(chromium: str, store: str, tmp_path: Path) -> None:
    pages = {}
    for kind in ("certification", "plan"):
        out = tmp_path / f"{kind}.html"
        result = runner.invoke(app, ["report", kind, "--store", store, "--format", "html", "--out", str(out)])
        assert result.exit_code == 0, result.output
        pages[kind] = _browse(chromium, out, tmp_path)
    cert = _json(store, tmp_path, "certification")
    dom, shot = pages["certification"]
    drawn = {label: value for label, series, value in dom.bars["certification-scores"] if series == "得分"}
    assert drawn == {c["name"]: c["score"] for c in cert["counties"]}
    assert _blue(shot) > 5_000  # the score bars are on the screen
    plan = _json(store, tmp_path, "plan")
    dom, shot = pages["plan"]
    percent = [value for _, series, value in dom.bars["plan-targets"] if series == "完成率"]
    assert percent == pytest.approx([t["percent"] for t in plan["targets"]], abs=0.06)
    assert dom.bars["plan-districts"] and _blue(shot) > 5_000
