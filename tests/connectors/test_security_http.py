"""The security HTTP gateway over real HTTP on an ephemeral port: bodies reach the sink byte for byte."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from safecampus.connectors.security.http import SecurityHttpGateway
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.security_payloads import (
    alarmbox_json,
    gb28181_alarm_xml,
    gb28181_sip_message,
    isapi_alert_xml,
    isapi_multipart,
)

AT = datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
GB_ID = "32040000001310000001"


@pytest.fixture
def gateway() -> Iterator[tuple[SecurityHttpGateway, list[RawEnvelope]]]:
    received: list[RawEnvelope] = []
    gw = SecurityHttpGateway(received.append, port=0, gateway_id="gw-test", max_body_bytes=64 * 1024)
    gw.start()
    try:
        yield gw, received
    finally:
        gw.stop()


def post(port: int, path: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": content_type} if content_type else {}
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, response.read()
    conn.close()
    return answer


def test_isapi_multipart_reaches_the_sink_unchanged(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    xml = isapi_alert_xml(GB_ID, "44:19:b6:12:34:56", "10.20.1.64", 1, "fielddetection", "active", AT)
    body, content_type = isapi_multipart(xml, "boundary-7d1f")
    before = datetime.now(UTC)
    status, _ = post(gw.bound_port, "/ISAPI/Event/notification/alert", body, content_type)
    assert status == 200
    (envelope,) = received
    assert envelope.payload_bytes() == body  # JPEG bytes included: nothing decoded or rewritten
    assert (envelope.domain, envelope.source, envelope.content_type) == ("security", "isapi", content_type)
    assert (envelope.gateway, envelope.key) == ("gw-test", None)
    assert before - timedelta(seconds=1) <= envelope.received_at <= datetime.now(UTC)
    assert envelope.received_at.utcoffset() == timedelta(0)


def test_gb28181_and_alarmbox_bodies(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    gb_body = gb28181_sip_message(gb28181_alarm_xml(GB_ID, 1, 5, 6, AT, 17), GB_ID, at=AT)
    box_body = alarmbox_json("CZ-0004-00", "one_key", "active", AT)
    assert post(gw.bound_port, "/gb28181", gb_body, "Application/MANSCDP+xml")[0] == 200
    assert post(gw.bound_port, "/alarmbox", box_body, "application/json")[0] == 200
    assert [(e.source, e.payload_bytes()) for e in received] == [("gb28181", gb_body), ("alarmbox", box_body)]
    assert received[0].content_type == "Application/MANSCDP+xml"
    assert gw.received == 2


def test_unknown_path_and_too_large(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    assert post(gw.bound_port, "/nowhere", b"<x/>", "application/xml")[0] == 404
    assert post(gw.bound_port, "/isapi", b"x" * (64 * 1024 + 1), "application/xml")[0] == 413
    assert post(gw.bound_port, "/isapi", b"", None)[0] == 400  # an empty body holds nothing to keep: refused
    assert post(gw.bound_port, "/isapi", b"?", None)[0] == 200  # anything else is stored (the DLQ decides)
    assert received[-1].content_type == "application/octet-stream"
    assert len(received) == 1 and gw.rejected == 3 and gw.counts["empty_body"] == 1


def test_sink_failure_asks_the_device_to_retry() -> None:
    def broken(_: RawEnvelope) -> None:
        raise ConnectionError("Kafka is not reachable")

    gw = SecurityHttpGateway(broken, port=0)
    gw.start()
    try:
        assert post(gw.bound_port, "/alarmbox", b"{}", "application/json")[0] == 503
    finally:
        gw.stop()


def test_chunked_body(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    body = alarmbox_json("CZ-0004-01", "fence", "active", AT)
    request = (
        b"POST /alarmbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body[:10]):x}\r\n".encode()
        + body[:10]
        + b"\r\n"
        + f"{len(body[10:]):x}\r\n".encode()
        + body[10:]
        + b"\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gw.bound_port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200")
    assert received[0].payload_bytes() == body


def test_escort_confirmations_are_bus_records_keyed_by_terminal(
    gateway: tuple[SecurityHttpGateway, list[RawEnvelope]],
) -> None:
    from safecampus.connectors.bus.escort import EscortEvent
    from safecampus.connectors.security.http import ESCORT_MAX_BODY_BYTES

    gw, received = gateway
    body = b'{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}'
    assert post(gw.bound_port, "/escort", body, "application/json")[0] == 200
    assert post(gw.bound_port, "/escort/", b"not json", "application/json")[0] == 200  # stored; the DLQ decides
    assert post(gw.bound_port, "/escort", b" " * (ESCORT_MAX_BODY_BYTES + 1), "application/json")[0] == 413
    assert gw.rejected == 1
    first, broken = received
    assert (first.domain, first.source, first.key, first.content_type) == (
        "bus",
        "bus-json",
        "013800000001",
        "application/json",
    )
    assert first.payload_bytes() == body and EscortEvent.model_validate_json(first.payload_bytes()).kind == "all_off"
    assert (broken.domain, broken.key, broken.payload_bytes()) == ("bus", None, b"not json")
