"""The device HTTP gateway against its OpenAPI description: schemathesis posts what the spec allows
(and bodies it generates at the edges) to a live gateway and checks every answer is one the spec
documents, never a server error, with the documented content type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from safecampus.connectors.security.http import SecurityHttpGateway
from safecampus.connectors.security.http_spec import openapi_spec
from safecampus.schemas.envelope import RawEnvelope

SPEC_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "gateway-http.json"
schema = schemathesis.openapi.from_dict(openapi_spec())
received: list[RawEnvelope] = []


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    gw = SecurityHttpGateway(received.append, port=0)
    gw.start()
    try:
        yield f"http://127.0.0.1:{gw.bound_port}"
    finally:
        gw.stop()


def test_the_spec_file_is_current() -> None:
    written = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    assert written == openapi_spec(), "regenerate: python -m safecampus.connectors.security.http_spec"
    assert {"/isapi", "/gb28181", "/alarmbox", "/escort"} <= set(written["paths"])


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case: schemathesis.Case, gateway: str) -> None:
    before = len(received)
    # Sent with requests itself: schemathesis' own sender does not know this urllib3's pool type.
    response = requests.request(**case.as_transport_kwargs(base_url=gateway), timeout=10)
    # Documented status, content type and headers (Allow on a 405), never a 5xx. The gateway stores any
    # bytes by design (the pipeline decodes and DLQs them), so "{}" for a binary body is not negative data.
    case.validate_response(response, excluded_checks=[schemathesis.checks.negative_data_rejection])
    if response.status_code == 200:  # stored: one raw envelope holding the posted bytes unchanged
        assert len(received) == before + 1
        if isinstance(case.body, bytes):
            assert received[-1].payload_bytes() == case.body


def test_an_empty_body_is_refused_not_stored(gateway: str) -> None:
    before = len(received)
    response = requests.post(f"{gateway}/alarmbox", data=b"", timeout=10)
    assert response.status_code == 400 and "empty" in response.text
    assert len(received) == before
    assert requests.request("TRACE", f"{gateway}/isapi", timeout=10).headers.get("Allow") == "POST"
