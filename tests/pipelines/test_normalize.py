"""normalize_lines: every line ends as events or as one DLQ record with its bytes and a plain reason."""

from __future__ import annotations

import base64

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen import CanteenPipeline
from safecampus.pipelines.domain import DecodeError, leniency_partials
from safecampus.pipelines.normalize import envelope_reason, event_rows, normalize_lines
from safecampus.schemas.envelope import RawEnvelope


@pytest.fixture(scope="module")
def pipeline(city_registry: RegistryView) -> CanteenPipeline:
    return CanteenPipeline(Settings(), city_registry)


def test_events_keep_their_subject_and_the_chunk_its_time_span(pipeline: CanteenPipeline, sample_lines) -> None:  # type: ignore[no-untyped-def]
    out = normalize_lines(pipeline, [(1, sample_lines["canteen"]), (2, b"")], "day.jsonl")
    assert len(out.events) == 1 and out.dlq == []  # an empty line (the end of a file) is no record
    subject, event = out.events[0]
    assert subject == pipeline.subject(event)
    assert out.earliest == out.latest == pipeline.occurred_at(event)


def test_each_refusal_names_its_step_and_keeps_the_original_bytes(pipeline: CanteenPipeline, sample_lines) -> None:  # type: ignore[no-untyped-def]
    other_domain = sample_lines["bus"]
    bad_payload = (
        RawEnvelope.of_bytes(
            b'{"entry_id": 1}',
            domain="canteen",
            source="ledger-json",
            content_type="application/json",
            received_at="2026-09-01T08:00:00+08:00",  # type: ignore[arg-type]
        )
        .model_dump_json()
        .encode()
    )
    lines = [(1, b"not json"), (2, other_domain), (3, bad_payload)]
    out = normalize_lines(pipeline, lines, "day.jsonl", partition=None)
    assert out.events == []
    by_line = {d.source_offset: d for d in out.dlq}
    assert sorted(by_line) == [1, 2, 3]
    assert (by_line[1].step, by_line[2].step, by_line[3].step) == ("envelope", "envelope", "validate")
    assert "bus domain" in by_line[2].reason
    assert base64.b64decode(by_line[1].payload_b64) == b"not json"
    assert base64.b64decode(by_line[3].payload_b64) == b'{"entry_id": 1}'  # the payload, not the envelope
    assert all("\n" not in d.reason and "Traceback" not in d.reason for d in out.dlq)


def test_a_decoder_bug_costs_one_record_not_the_chunk(pipeline: CanteenPipeline, sample_lines, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}
    real = pipeline.decode

    def flaky(envelope: RawEnvelope) -> list:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ZeroDivisionError("boom")
        if calls["n"] == 2:
            raise DecodeError("registry", "canteen C9 is not in the registry")
        return real(envelope)

    monkeypatch.setattr(pipeline, "decode", flaky)
    line = sample_lines["canteen"]
    out = normalize_lines(pipeline, [(1, line), (2, line), (3, line)], "day.jsonl")
    assert len(out.events) == 1
    assert [(d.source_offset, d.step) for d in out.dlq] == [(1, "decode"), (2, "registry")]
    assert "ZeroDivisionError" in out.dlq[0].reason


def test_envelope_reasons_are_plain_words() -> None:
    from pydantic import ValidationError

    for line, expected in ((b"\xff\xfe", "not UTF-8"), (b"{oops", "not valid JSON"), (b"[1]", "not an object")):
        with pytest.raises(ValidationError) as info:
            RawEnvelope.model_validate_json(line)
        assert expected in envelope_reason(line, info.value)


def test_event_rows_carry_the_natural_key(pipeline: CanteenPipeline, sample_lines) -> None:  # type: ignore[no-untyped-def]
    out = normalize_lines(pipeline, [(1, sample_lines["canteen"])], "day.jsonl")
    bodies = [e.model_dump_json() for _, e in out.events]
    (row,) = event_rows(pipeline, out.events, bodies)
    subject, event = out.events[0]
    assert row == {
        "domain": "canteen",
        "event_id": pipeline.event_id(event),
        "subject": subject,
        "occurred_at": pipeline.occurred_at(event),
        "body": bodies[0],
    }


@pytest.mark.parametrize("blank", [b"  ", b"\t", b"\r", b" \x0b\x0c "])
def test_a_line_of_only_whitespace_goes_to_the_dlq(pipeline: CanteenPipeline, sample_lines, blank: bytes) -> None:  # type: ignore[no-untyped-def]
    out = normalize_lines(pipeline, [(1, sample_lines["canteen"]), (2, blank)], "day.jsonl")
    assert len(out.events) == 1
    (record,) = out.dlq
    assert (record.source_offset, record.step) == (2, "envelope")
    assert "whitespace" in record.reason and base64.b64decode(record.payload_b64) == blank


def test_a_utf8_bom_before_a_valid_line_is_stripped_and_counted(pipeline: CanteenPipeline, sample_lines) -> None:  # type: ignore[no-untyped-def]
    out = normalize_lines(pipeline, [(1, b"\xef\xbb\xbf" + sample_lines["canteen"])], "day.jsonl")
    assert len(out.events) == 1 and out.dlq == []
    assert out.lenient == ["utf8_bom"]
    partials = leniency_partials("canteen", [e for _, e in out.events], out.lenient)
    assert partials == {("decode_leniencies_total", (("domain", "canteen"), ("kind", "utf8_bom"))): 1.0}
