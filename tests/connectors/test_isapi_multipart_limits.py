"""ISAPI multipart splitting: linear, lazy and capped in parts (issue 10's 16 MB boundary `-` post)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from safecampus.connectors.security.isapi import MAX_MULTIPART_PARTS, decode_isapi
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.simulator.security_payloads import isapi_alert_xml, isapi_multipart

MIB = 1024 * 1024


def _alert() -> bytes:
    at = datetime(2026, 9, 1, 22, 15, 3, tzinfo=UTC)
    return isapi_alert_xml("CZ-CAM-1", "44:19:b6:12:34:56", "10.20.1.64", 1, "fielddetection", "active", at)


@pytest.mark.parametrize(
    "body",
    [
        b"-" * (16 * MIB),  # issue 10: boundary '-', 16 MB of it took 33 s
        b"---\r\n\r\nx\r\n" * (MIB // 2),  # tiny header-less parts
        b"---\r\nA: b\r\n\r\n" * (MIB // 2),  # tiny parts with a header and no body
    ],
    ids=["dashes", "tiny-parts", "tiny-headers"],
)
def test_a_post_of_tiny_parts_is_refused_quickly(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(SecurityDecodeError, match=f"more than {MAX_MULTIPART_PARTS} parts"):
        decode_isapi(body, "multipart/form-data; boundary=-")
    assert time.perf_counter() - started < 0.5


def test_the_xml_part_is_found_before_the_part_cap_is_reached() -> None:
    body, content_type = isapi_multipart(_alert(), "b")
    body = body.removesuffix(b"--b--\r\n") + b"--b\r\n\r\nfiller\r\n" * (MAX_MULTIPART_PARTS * 4) + b"--b--\r\n"
    assert decode_isapi(body, content_type).device_id == "CZ-CAM-1"


def test_a_post_with_pictures_up_to_the_cap_decodes() -> None:
    xml = _alert()
    body = b"".join(
        b"--b\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9\r\n" for _ in range(MAX_MULTIPART_PARTS - 1)
    )
    body += b"--b\r\nContent-Type: application/xml\r\n\r\n" + xml + b"\r\n--b--\r\n"
    assert decode_isapi(body, "multipart/form-data; boundary=b").device_id == "CZ-CAM-1"
    with pytest.raises(SecurityDecodeError, match="parts"):
        decode_isapi(b"--b\r\n\r\nx\r\n" + body, "multipart/form-data; boundary=b")
