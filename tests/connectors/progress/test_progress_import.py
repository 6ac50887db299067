"""The progress forms as people send them: each form's good rows into the store, its bad rows to the DLQ with
file, row, column, reason and bytes; names refused; teachers hashed with the salt; certificate expiry."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from safecampus.connectors.progress.forms import teacher_hash
from safecampus.connectors.progress.importer import ImportRefused, import_progress, places_of
from safecampus.connectors.registry import RegistryView, load_view
from safecampus.connectors.store import engine_for
from safecampus.pipelines.plan.measures import Sources, first_aiders, milestones
from safecampus.pipelines.plan.targets import load_targets
from safecampus.schemas.progress import FirstAidCertificateRow, MilestoneRow

SALT = "test-salt"


@pytest.fixture
def places(city_registry: RegistryView):  # type: ignore[no-untyped-def]
    return places_of(city_registry, SALT, validity_years=3)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def reasons(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.reason for d in result.dlq]


def test_milestones_good_and_bad_rows(tmp_path: Path, places) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "项目节点.csv", "常州市智慧安防项目进度表\n"  # a title row above the header
        "项目编号,类别,区,学校,阶段,日期,计划投用日期\n"
        "AF-001,智慧安防项目,钟楼区,S0001,立项,2024-03-01,2025-06-30\n"
        "AF-001,智慧安防项目,,S0001,验收,2025年5月20日,\n"
        "TY-001,hall,wujin,,in_use,2025/09/01,\n"
        "AF-002,智慧安防项目,wujin,,设计,2025-05-01,\n"
        "AF-003,智慧安防项目,,S9999,开工,2025-05-01,\n"
        "AF-004,智慧安防项目,钟楼区,S0003,开工,2025-05-01,\n"
        "AF-001,智慧安防项目,zhonglou,,立项,2024-03-02,\n")  # fmt: skip
    result = import_progress(path, places)
    assert result.form == "milestone"
    assert [(r["project_id"], r["stage"], r["district_id"]) for r in result.rows] == [
        ("AF-001", "approved", "zhonglou"),
        ("AF-001", "accepted", "zhonglou"),
        ("TY-001", "in_use", "wujin"),
    ]
    assert result.rows[1]["reached_on"] == date(2025, 5, 20)
    said = reasons(result)
    assert "第6行" in said[0] and "阶段「设计」不认识" in said[0]
    assert "学校 S9999 不在登记册中" in said[1]
    assert "学校 S0003 不在钟楼区" in said[2]  # S0003 is in another district
    assert "与第3行重复 repeats row 3" in said[3]
    assert [d.source_offset for d in result.dlq] == [6, 7, 8, 9]
    assert result.dlq[0].payload().decode() == "AF-002,智慧安防项目,wujin,,设计,2025-05-01,"
    assert all(d.domain == "plan" and d.step == "import" for d in result.dlq)


def test_certificates_hash_the_teacher_and_expire_after_the_validity(tmp_path: Path, places, city_store: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "救护员证书.csv", "学校,教师编号,发证日期,有效期至\n"
        "S0001,T-0001,2022-07-01,\n"      # expires 2025-07-01
        "S0001,T-0002,2024-02-29,\n"      # leap day: expires 2027-02-28
        "S0002,T-0003,2023-01-10,2024-01-10\n"   # a shorter validity written on the certificate
        "S0002,,2023-01-10,\n"
        "S0002,T-0004,2024-05-01,2024-04-01\n"
        "S0002,T-0005,明天,\n")  # fmt: skip
    result = import_progress(path, places)
    hashes = [r["teacher_hash"] for r in result.rows]
    assert hashes[0] == teacher_hash("T-0001", SALT) and len(hashes[0]) == 64
    assert "T-0001" not in json.dumps([r | {"issued_on": "", "expires_on": ""} for r in result.rows])
    assert [r["expires_on"] for r in result.rows] == [date(2025, 7, 1), date(2027, 2, 28), date(2024, 1, 10)]
    said = reasons(result)
    assert "教师编号 为空 is empty" in said[0]
    assert "expires before it was issued" in said[1] and "不是日期" in said[2]
    engine = engine_for(city_store)
    result.save(engine)
    result.save(engine)  # the same file twice: the same rows
    with Session(engine) as session:
        assert len(session.exec(select(FirstAidCertificateRow)).all()) == 3
    target = next(t for t in load_targets().targets if t.measure == "first_aiders")
    registry = load_view(engine)
    before, _ = first_aiders(target, Sources(engine, registry, date(2025, 6, 30)))
    after, _ = first_aiders(target, Sources(engine, registry, date(2025, 7, 1)))
    assert sorted(i.state for i in before) == ["done", "done", "late"]  # T-0003's ran out in 2024
    assert sorted(i.state for i in after) == ["done", "late", "late"]  # T-0001's lapsed on its expiry day
    lapsed = next(i for i in after if i.state == "late" and "2025-07-01" in i.note)
    assert "需复训" in lapsed.note and "T-0001" not in lapsed.id


def test_a_name_column_refuses_the_file_and_no_salt_refuses_the_row(tmp_path: Path, places, city_registry) -> None:  # type: ignore[no-untyped-def]
    named = write(tmp_path, "names.csv", "学校,教师姓名,发证日期\nS0001,张三,2024-01-01\n")
    with pytest.raises(ImportRefused, match="holds names"):
        import_progress(named, places)
    unsalted = places_of(city_registry, "", 3)
    result = import_progress(write(tmp_path, "c.csv", "学校,教师编号,发证日期\nS0001,T1,2024-01-01\n"), unsalted)
    assert not result.rows and "SAFECAMPUS_PLAN__TEACHER_SALT" in result.dlq[0].reason
    hashed = teacher_hash("T1", "other")
    ok = import_progress(
        write(tmp_path, "h.csv", f"学校,教师哈希,发证日期\nS0001,{hashed.upper()},2024-01-01\n"), unsalted
    )
    assert ok.rows[0]["teacher_hash"] == hashed  # a hash made elsewhere is kept as it is


def test_hall_visits_and_alarm_tests_good_and_bad_rows(tmp_path: Path, places) -> None:  # type: ignore[no-untyped-def]
    visits = import_progress(write(tmp_path, "v.csv", "学校,班级,参观日期,人数,体验馆\n"
        "S0001,三年级2班,2025-10-09,42,TY-001\nS0001,三年级3班,2025-10-09,全班,TY-001\n"
        "S0001,三年级4班,2025-10-09,0,\n"), places)  # fmt: skip
    assert visits.form == "hall_visit" and visits.rows[0]["headcount"] == 42
    assert "不是整数" in reasons(visits)[0] and "必须大于0" in reasons(visits)[1]
    tests = import_progress(write(tmp_path, "t.json", json.dumps([
        {"学校": "S0001", "测试日期": "2026-08-03", "公安接警": "是", "到达分钟": "4.5"},
        {"学校": "S0002", "测试日期": "2026-08-04", "公安接警": "否"},
        {"学校": "S0003", "测试日期": "2026-08-05", "公安接警": "也许"},
        {"学校": "S0004", "测试日期": "2026-08-05", "到达分钟": "3000"},
        "not an object",
    ], ensure_ascii=False)), places)  # fmt: skip
    assert tests.form == "alarm_test"
    assert [(r["school_id"], r["received"], r["arrival_minutes"]) for r in tests.rows] == [
        ("S0001", True, 4.5), ("S0002", False, None)]  # fmt: skip
    assert ["是/否" in reasons(tests)[0], "more than a day" in reasons(tests)[1]] == [True, True]
    assert "不是 JSON 对象" in reasons(tests)[2]


def test_the_simulated_files_import_with_their_bad_rows_refused(tmp_path: Path, places, city_store: str) -> None:  # type: ignore[no-untyped-def]
    from safecampus.simulator.city import build_city
    from safecampus.simulator.progress import write_progress

    engine = engine_for(city_store)
    refused = 0
    for path in write_progress(build_city(), tmp_path, date(2026, 9, 1)):
        result = import_progress(path, places)
        result.save(engine)
        refused += len(result.dlq)
        assert result.rows, path.name
    assert refused == 6  # the two, two, one and one bad rows the simulator writes
    target = next(t for t in load_targets().targets if t.id == "pickup_centres")
    items, note = milestones(target, Sources(engine, load_view(engine), date(2026, 9, 1)))
    assert not note and sum(i.state == "done" for i in items) == 8
    with Session(engine) as session:
        assert {r.kind for r in session.exec(select(MilestoneRow))} == {"security_project", "pickup_centre", "hall"}
