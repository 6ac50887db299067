"""The plan's progress records of the simulated city, as the bureau's units would send them (CSV, Chinese
headers; docs/progress-records.md): project milestones, first-aider certificates, hall visits and monthly
one-key alarm tests. Each file carries a bad row or two, which the importer sends to the DLQ.

No personal names: a teacher is the salted hash of a staff number (`SIM_SALT`), as the form asks.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from safecampus.connectors.progress.forms import teacher_hash
from safecampus.schemas.progress import PROJECT_KINDS, STAGE_NAMES, STAGES
from safecampus.simulator.city import City

SIM_SALT = "simulated-city"
PLAN_START = date(2023, 3, 1)
FILES = ("项目节点.csv", "救护员证书.csv", "体验馆参观.csv", "一键报警测试.csv")
# kind → (projects, of which reach their last stage), the plan asks 20 / 13 / 4
PROJECTS = {"security_project": (21, 17), "pickup_centre": (13, 8), "hall": (4, 3)}


def write_progress(city: City, directory: Path, on: date, seed: int = 2026) -> list[Path]:
    """The four CSV files under `directory`, as of the day before `on`."""
    rng = random.Random(f"{seed}/progress")
    directory.mkdir(parents=True, exist_ok=True)
    writers = (_milestones, _certificates, _hall_visits, _alarm_tests)
    paths = []
    for name, write in zip(FILES, writers, strict=True):
        header, rows = write(city, on, rng)
        path = directory / name
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(header)
            out.writerows(rows)
        paths.append(path)
    return paths


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _milestones(city: City, on: date, rng: random.Random) -> tuple[list[str], list[list[object]]]:
    header = ["项目编号", "类别", "区", "学校", "阶段", "日期", "计划投用日期"]
    rows: list[list[object]] = []
    districts = [d.district_id for d in city.districts]
    for kind, (count, finished) in PROJECTS.items():
        prefix = {"security_project": "AF", "pickup_centre": "JS", "hall": "TY"}[kind]
        for n in range(count):
            school = city.schools[(n * 13 + len(prefix)) % len(city.schools)]
            district = districts[n % len(districts)] if kind == "hall" else school.district_id
            due = _day(rng, date(2025, 3, 1), date(2026, 12, 31))
            last = len(STAGES) if n < finished else rng.randint(1, len(STAGES) - 1)
            day = _day(rng, PLAN_START, date(2024, 6, 30))
            for stage in STAGES[:last]:
                if day >= on:
                    break
                place = "" if kind == "hall" else school.school_id
                rows.append([f"{prefix}-{n + 1:03d}", PROJECT_KINDS[kind], district, place, STAGE_NAMES[stage],
                             day.isoformat(), due.isoformat()])  # fmt: skip
                day += timedelta(days=rng.randint(40, 160))
    rows.append(["AF-999", "智慧安防项目", "wujin", "", "设计", "2025-05-01", ""])  # no such stage: DLQ
    rows.append(["JS-999", "地下接送中心", "", "S9999", "开工", "2025-05-01", ""])  # no such school: DLQ
    return header, rows


def _certificates(city: City, on: date, rng: random.Random) -> tuple[list[str], list[list[object]]]:
    header = ["学校", "教师哈希", "发证日期", "有效期至"]
    rows: list[list[object]] = []
    for school in city.schools:
        for n in range(rng.randint(8, 16)):
            issued = _day(rng, date(2022, 6, 1), on - timedelta(days=1))
            teacher = teacher_hash(f"{school.school_id}-T{n:03d}", SIM_SALT)
            rows.append([school.school_id, teacher, issued.isoformat(), ""])  # validity from the settings
            if issued < date(2023, 9, 1) and rng.random() < 0.6:  # renewed before it lapsed
                renewed = issued + timedelta(days=3 * 365 - rng.randint(10, 60))
                rows.append([school.school_id, teacher, renewed.isoformat(), ""])
    rows.append([city.schools[0].school_id, "not-a-hash", "2025-04-01", ""])  # DLQ: not a SHA-256
    rows.append([city.schools[1].school_id, teacher_hash("x", SIM_SALT), "2025-02-30", ""])  # DLQ: no such day
    return header, rows


def _hall_visits(city: City, on: date, rng: random.Random) -> tuple[list[str], list[list[object]]]:
    header = ["学校", "班级", "参观日期", "人数", "体验馆"]
    rows: list[list[object]] = []
    grades = ("一", "二", "三", "四", "五", "六")
    for school in city.schools[::2]:
        for visit in range(rng.randint(1, 4)):
            day = _day(rng, date(2025, 3, 1), on - timedelta(days=1))
            rows.append([school.school_id, f"{grades[visit % 6]}年级{rng.randint(1, 8)}班", day.isoformat(),
                         rng.randint(30, 48), f"TY-{rng.randint(1, 3):03d}"])  # fmt: skip
    rows.append([city.schools[2].school_id, "三年级1班", "2025-10-09", "全班", "TY-001"])  # DLQ: not a number
    return header, rows


def _alarm_tests(city: City, on: date, rng: random.Random) -> tuple[list[str], list[list[object]]]:
    header = ["学校", "测试日期", "设备", "公安接警", "到达分钟"]
    boxes = {d.school_id: d.device_id for d in city.devices if d.kind == "alarm_box"}
    rows: list[list[object]] = []
    months = [date(on.year - (on.month <= k), (on.month - k - 1) % 12 + 1, 1) for k in (3, 2, 1)]
    for i, school in enumerate(city.schools):
        for m, first in enumerate(months):
            if i % 19 == 4 and m == 1:
                continue  # a school that skipped a month
            day = first + timedelta(days=rng.randint(2, 20))
            received = "否" if i % 53 == 9 and m == 2 else "是"
            minutes = round(rng.uniform(2.0, 4.8) if i % 29 != 11 else rng.uniform(5.5, 9.0), 1)
            rows.append([school.school_id, day.isoformat(), boxes.get(school.school_id, ""), received, minutes])
    rows.append([city.schools[3].school_id, "2026-13-01", "", "是", 3.0])  # DLQ: no such month
    return header, rows
