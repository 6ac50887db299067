"""The canteen API: role separation (the public token gets 401/403 on every auditor route and never sees an
unpublished month), the committed OpenAPI spec, and schemathesis against the running app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from safecampus.canteen.api import create_app, openapi_spec
from safecampus.canteen.data import CanteenData
from safecampus.canteen.tokens import create_token
from safecampus.connectors.store import engine_for

SPEC = Path(__file__).resolve().parents[3] / "docs" / "canteen-api.openapi.json"
AUDITOR_ONLY = ["/red-flags", "/canteens/C0001/red-flags", "/canteens/C0001/ledger/2026-09"]
EVERY_ROUTE = [
    *AUDITOR_ONLY,
    "/canteens",
    "/canteens/C0001/statements",
    "/canteens/C0001/statements/2026-09",
    "/canteens/C0001/reports/2026-09?format=json",
    "/public/canteens/C0001",
    "/open-data/statements.csv",
    "/open-data/statements.schema.json",
]


@pytest.fixture(scope="module")
def api(
    _canteen_store_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TestClient, dict[str, dict[str, str]]]:
    path = tmp_path_factory.mktemp("api") / "safecampus.db"
    shutil.copyfile(_canteen_store_template, path)
    canteen_store = f"sqlite:///{path}"
    engine = engine_for(canteen_store)
    tokens = {role: create_token(engine, role) for role in ("public", "auditor")}  # type: ignore[arg-type]
    headers = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    CanteenData.load(canteen_store)  # the audit runs once here, not inside the first request's time limit
    return TestClient(create_app(canteen_store)), headers


def test_every_route_needs_a_known_token(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, _ = api
    for path in EVERY_ROUTE:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer sc_aud_guessed"}).status_code == 401, path
    assert client.get("/health").status_code == 200


def test_the_public_token_gets_403_on_every_auditor_route(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = api
    for path in AUDITOR_ONLY:
        assert client.get(path, headers=headers["public"]).status_code == 403, path
        assert client.get(path, headers=headers["auditor"]).status_code == 200, path


def _walk(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _walk(v))]
    if isinstance(value, list):
        return [k for v in value for k in _walk(v)]
    return []


def test_the_public_never_sees_an_unpublished_month(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = api
    public, auditor = headers["public"], headers["auditor"]
    theirs = client.get("/canteens/C0001/statements", headers=auditor).json()
    ours = client.get("/canteens/C0001/statements", headers=public).json()
    assert [s["month"] for s in theirs] == ["2026-09", "2026-10"] and [s["month"] for s in ours] == ["2026-09"]
    for path in ("/canteens/C0001/statements/2026-10", "/canteens/C0001/reports/2026-10?format=html"):
        assert client.get(path, headers=public).status_code == 404
        assert client.get(path, headers=auditor).status_code == 200
    assert {c["latest_month"] for c in client.get("/canteens", headers=public).json()} <= {"2026-09", None}
    rows = client.get("/open-data/statements.csv", headers=public).text.splitlines()[1:]
    assert rows and all(",2026-09," in row for row in rows)  # October is nobody's published month yet
    page = client.get("/public/canteens/C0001", headers=public).text
    assert "2026-09 收支情况" in page and "2026-10 收支情况" not in page


def test_public_answers_carry_no_evidence_rows_or_personal_keys(
    api: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = api
    flagged = next(
        c["canteen"]
        for c in client.get("/canteens", headers=headers["auditor"]).json()
        if any(
            s["red_flags"] for s in client.get(f"/canteens/{c['canteen']}/statements", headers=headers["public"]).json()
        )
    )
    public = client.get(f"/canteens/{flagged}/statements/2026-09", headers=headers["public"]).json()
    audited = client.get(f"/canteens/{flagged}/statements/2026-09", headers=headers["auditor"]).json()
    assert public["red_flags"] and len(public["red_flags"]) == len(audited["red_flags"])
    assert not any("entry_id" in e for f in public["red_flags"] for e in f["evidence"])
    assert any("entry_id" in e for f in audited["red_flags"] for e in f["evidence"])
    assert not {"operator_id", "comment", "name"} & set(_walk(public))


def test_the_committed_openapi_spec_is_the_served_one(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, _ = api
    served = client.get("/openapi.json").json()
    assert served == openapi_spec() == json.loads(SPEC.read_text(encoding="utf-8")), (
        "docs/canteen-api.openapi.json is stale: python -m safecampus.canteen.spec docs/canteen-api.openapi.json"
    )
    assert {"/canteens", "/red-flags", "/canteens/{canteen_id}/reports/{month}"} <= set(served["paths"])


def test_schemathesis_finds_the_api_keeping_its_spec(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    """Generated requests, valid and not, to every operation get documented status codes, content types and
    bodies, and never a 5xx (schemathesis' default checks), as an auditor."""
    client, headers = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # Sent through FastAPI's test client (httpx), checked by schemathesis: its own requests transport
            # breaks when another package installs urllib3-future in place of urllib3.
            sent = {**(case.headers or {}), **headers["auditor"]}
            response = client.request(case.method, case.formatted_path, params=case.query, headers=sent)
            case.validate_response(response, headers=sent)

        check()
