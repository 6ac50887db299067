"""The OpenAPI 3 description of the device HTTP gateway, made from its routes and limits.

    python -m safecampus.connectors.security.http_spec docs/openapi/gateway-http.json

Devices post bodies the gateway does not decode (XML, JSON, multipart with JPEG snapshots), so each
route takes any bytes up to its limit and answers 200 with an empty body, or a refusal in plain text.
The tests check the file is current and run schemathesis against a live gateway with it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from safecampus.connectors.security.http import BODY_LIMITS, DOMAINS, MAX_BODY_BYTES, ROUTES

_WHAT = {
    "isapi": "Hikvision ISAPI event notification (XML, or multipart/form-data with snapshots)",
    "gb28181": "GB/T 28181 MANSCDP Alarm or Keepalive (XML, GB2312 or UTF-8, bare or inside a SIP MESSAGE)",
    "alarmbox": "one-key alarm box or intrusion sensor event (JSON)",
    "counter": "pick-up centre vehicle counter reading or barrier passage (JSON, docs/pickup-centres.md)",
    "bus-json": "school-bus escort confirmation (JSON: terminal_id, kind, time)",
    "inspection-json": "childcare fire-safety inspection form (JSON)",
}
_REFUSALS = {
    "400": "malformed request: bad head, bad chunk sizes, or a body shorter than its Content-Length",
    "401": "a device token is required and was missing or unknown (the gateway runs with --tokens)",
    "404": "no such route",
    "405": "only POST is accepted",
    "408": "the head or the body came too slowly",
    "411": "neither Content-Length nor chunked encoding",
    "413": "the body is over the route's limit",
    "431": "too many or too long header fields",
    "501": "a transfer encoding other than chunked",
    "503": "busy (connection or pending-body cap) or the store refused the body; retry",
}


def openapi_spec() -> dict[str, Any]:
    """The gateway's OpenAPI 3.0 document: one POST operation per route."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    paths: dict[str, Any] = {}
    for path, source in ROUTES.items():
        limit = min(MAX_BODY_BYTES, BODY_LIMITS.get(source, MAX_BODY_BYTES))
        domain = DOMAINS.get(source, "security")
        body_schema = {"type": "string", "format": "binary", "minLength": 1, "maxLength": limit}
        paths[path] = {
            "post": {
                "operationId": f"post_{source.replace('-', '_')}_{path.strip('/').replace('/', '_') or 'root'}",
                "summary": f"{_WHAT.get(source, source)}; stored unchanged in raw.{domain} (source {source})",
                "security": [{}, {"deviceToken": []}, {"queryToken": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        media: {"schema": body_schema}
                        for media in ("application/xml", "application/json", "application/octet-stream")
                    },
                },
                "responses": {
                    "200": {"description": "stored; the body is empty", "content": text},
                    **{code: {"description": why, "content": text} for code, why in _REFUSALS.items()},
                },
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "safecampus device HTTP gateway",
            "version": "1",
            "description": "Cameras, NVRs, alarm boxes and escort apps post here; bodies go to raw.<domain> unchanged.",
        },
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer"},
                "queryToken": {"type": "apiKey", "in": "query", "name": "token"},
            }
        },
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/openapi/gateway-http.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(openapi_spec(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
