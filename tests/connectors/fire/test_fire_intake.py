"""Inspection intake: the checklist file, the JSON form checked against it, CSV and XLSX exports, bad forms refused."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from safecampus.config import FireRules, Settings
from safecampus.connectors.fire.checklist import ChecklistError, load_checklist
from safecampus.connectors.fire.importer import ImportRefused, import_file
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import DecodeError
from safecampus.pipelines.fire import FirePipeline
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.envelope import RawEnvelope

FORM = {
    "inspection_id": "T001-20260910-P0",
    "institution_id": "T001",
    "inspector_role": "patrol_staff",
    "kind": "patrol",
    "inspected_at": "2026-09-10T08:30:00+08:00",
    "checklist": [{"item_code": "C01", "result": "pass"}, {"item_code": "E01", "result": "fail"}],
    "findings": [{"item_code": "E01", "deadline": "2026-09-17", "photos": ["T001/1.jpg"]}],
}
HEADER = [
    "检查编号",
    "机构编号",
    "检查人角色",
    "检查类型",
    "检查时间",
    "检查项",
    "结果",
    "隐患描述",
    "照片",
    "整改期限",
]


@pytest.fixture(scope="module")
def pipeline(city_registry: RegistryView) -> FirePipeline:
    return FirePipeline(Settings(), city_registry)


def json_envelope(fields: dict[str, object]) -> RawEnvelope:
    return RawEnvelope(
        domain="fire", source="inspection-json", payload=json.dumps(fields), received_at=datetime.now(SHANGHAI)
    )


def test_the_shipped_checklist_has_the_guidelines_items() -> None:
    checklist = load_checklist()
    assert len(checklist.items) >= 30
    assert {checklist.items[c].category for c in ("A01", "A02", "A03", "A04", "A05")} == {"location"}
    assert (checklist.items["E01"].severity, checklist.items["V01"].severity, checklist.items["A03"].severity) == (
        "high",
        "warning",
        "critical",
    )


def test_an_edited_checklist_is_read_and_a_bad_one_refused(tmp_path: Path, city_registry: RegistryView) -> None:
    mine = tmp_path / "checklist.csv"
    mine.write_text("item_code,category,severity,name\nX01,exits,critical,后门畅通\n", encoding="utf-8")
    pipeline = FirePipeline(Settings(fire=FireRules(checklist=str(mine))), city_registry)
    form = {**FORM, "checklist": [{"item_code": "X01", "result": "fail"}], "findings": []}
    (inspection,) = pipeline.decode(json_envelope(form))
    assert [(f.item_code, f.category, f.severity) for f in inspection.findings] == [("X01", "exits", "critical")]
    bad = tmp_path / "bad.csv"
    bad.write_text("item_code,category,severity,name\nX01,kitchen,high,厨房\n", encoding="utf-8")
    with pytest.raises(ChecklistError, match="line 2: category 'kitchen'"):
        load_checklist(str(bad))


def test_a_form_is_completed_from_the_checklist(pipeline: FirePipeline) -> None:
    (inspection,) = pipeline.decode(json_envelope(FORM))
    (finding,) = inspection.findings
    assert (finding.category, finding.severity, finding.photos) == ("ebike", "high", ["T001/1.jpg"])
    failed_only = {**FORM, "findings": []}  # a failed item without a finding gets one with the defaults
    (inspection,) = pipeline.decode(json_envelope(failed_only))
    assert [(f.item_code, f.severity) for f in inspection.findings] == [("E01", "high")]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"checklist": [{"item_code": "Z99", "result": "fail"}], "findings": []}, "item Z99 is not in the checklist"),
        (
            {"checklist": [{"item_code": "E01", "result": "pass"}]},
            "finding on item E01, which the same form marks pass",
        ),
        ({"findings": [{"item_code": "E01", "confirmed_at": "2026-09-10T09:00:00+08:00"}]}, "but not by whom"),
        ({"kind": "inspection"}, "field 'kind'"),
        ({"inspector_role": "principal"}, "field 'inspector_role'"),
        ({"inspected_at": "2026-09-10T08:30:00"}, "field 'inspected_at'"),
    ],
)
def test_a_bad_form_is_refused_with_its_reason(pipeline: FirePipeline, change: dict[str, object], reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as refused:
        pipeline.decode(json_envelope({**FORM, **change}))
    assert refused.value.step == "validate"


def test_a_form_for_an_unregistered_institution_is_not_refused(pipeline: FirePipeline) -> None:
    (inspection,) = pipeline.decode(json_envelope({**FORM, "institution_id": "T999"}))
    assert inspection.district is None  # its detector raises fire.unknown_institution


def _rows() -> list[list[object]]:
    return [
        HEADER,
        ["I-1", "T001", "巡查人员", "防火巡查", "2026-09-10 08:30", "C01", "合格", "", "", ""],
        [
            "I-1",
            "T001",
            "巡查人员",
            "防火巡查",
            "2026-09-10 08:30",
            "E01",
            "不合格",
            "走道充电",
            "a.jpg；b.jpg",
            "2026-09-17",
        ],
        ["", "T001", "巡查人员", "防火巡查", "2026-09-10 08:30", "V01", "合格", "", "", ""],
        ["I-2", "T002", "消防安全管理人", "月度检查", "2026-09-10 09:00", "V01", "不适用", "", "", ""],
    ]


def _decoded(pipeline: FirePipeline, path: Path) -> tuple[list[object], list[str]]:
    result = import_file(path)
    events = [e for envelope in result.envelopes for e in pipeline.decode(envelope)]
    return events, [d.reason for d in result.dlq]


def test_a_csv_export_becomes_one_envelope_per_inspection(pipeline: FirePipeline, tmp_path: Path) -> None:
    path = tmp_path / "巡查记录.csv"
    path.write_text("\n".join(",".join(str(c) for c in row) for row in _rows()) + "\n", encoding="utf-8-sig")
    events, dlq = _decoded(pipeline, path)
    first, second = events
    assert first.inspection_id == "I-1" and first.inspected_at == datetime(2026, 9, 10, 8, 30, tzinfo=SHANGHAI)  # type: ignore[attr-defined]
    (finding,) = first.findings  # type: ignore[attr-defined]
    assert (finding.item_code, finding.description, finding.photos) == ("E01", "走道充电", ["a.jpg", "b.jpg"])
    assert (second.kind, second.inspector_role, second.findings) == ("monthly", "fire_safety_manager", [])  # type: ignore[attr-defined]
    assert dlq == ["巡查记录.csv: row 4 has no 检查编号 inspection_id: it belongs to no inspection"]


def test_an_xlsx_export_gives_the_same_forms(pipeline: FirePipeline, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for n, row in enumerate(_rows()):
        if n and row[4]:
            row = [*row[:4], datetime.fromisoformat(str(row[4])), *row[5:]]  # Excel keeps times as times
        sheet.append(row)
    path = tmp_path / "巡查记录.xlsx"
    book.save(path)
    csv_path = tmp_path / "same.csv"
    csv_path.write_text("\n".join(",".join(str(c) for c in row) for row in _rows()) + "\n", encoding="utf-8")
    assert _decoded(pipeline, path)[0] == _decoded(pipeline, csv_path)[0]


def test_json_and_jsonl_files_are_imported_and_bad_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "forms.jsonl"
    path.write_text(json.dumps(FORM) + "\n{not json\n", encoding="utf-8")
    result = import_file(path)
    assert [e.key for e in result.envelopes] == ["T001"] and result.envelopes[0].payload == json.dumps(FORM)
    (bad,) = result.dlq
    assert "line 2 is not valid JSON" in bad.reason and bad.payload() == b"{not json"
    many = tmp_path / "forms.json"
    many.write_text(json.dumps([FORM, {**FORM, "inspection_id": "X"}]), encoding="utf-8")
    assert len(import_file(many).envelopes) == 2


def test_files_that_cannot_be_read_are_refused_in_one_line(tmp_path: Path) -> None:
    no_header = tmp_path / "x.csv"
    no_header.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="检查编号 inspection_id and 检查项 item_code"):
        import_file(no_header)
    fake = tmp_path / "x.xlsx"
    fake.write_bytes(b"not a workbook")
    with pytest.raises(ImportRefused, match="不是有效的 XLSX 文件 is not a readable .xlsx file"):
        import_file(fake)
    with pytest.raises(ImportRefused, match=".json, .jsonl, .csv or .xlsx"):
        (tmp_path / "x.txt").write_text("x")
        import_file(tmp_path / "x.txt")


def test_the_http_gateway_takes_inspection_forms_size_limited(pipeline: FirePipeline) -> None:
    import http.client

    from safecampus.connectors.security.http import INSPECTION_MAX_BODY_BYTES, SecurityHttpGateway

    received: list[RawEnvelope] = []
    gateway = SecurityHttpGateway(received.append, port=0)
    gateway.start()

    def post(body: bytes) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", gateway.bound_port, timeout=10)
        conn.request("POST", "/inspection", body, {"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status

    try:
        body = json.dumps(FORM).encode()
        assert post(body) == 200
        assert post(b" " * (INSPECTION_MAX_BODY_BYTES + 1)) == 413  # a form is a few KiB: refused, not stored
        assert post(b"{broken") == 200  # stored as received; the pipeline sends it to the DLQ with its reason
    finally:
        gateway.stop()
    form, broken = received
    assert (form.domain, form.source, form.key, form.payload_bytes()) == ("fire", "inspection-json", "T001", body)
    assert pipeline.decode(form)[0].inspection_id == FORM["inspection_id"]
    with pytest.raises(DecodeError, match="inspection form is not valid JSON"):
        pipeline.decode(broken)
    assert broken.key is None
