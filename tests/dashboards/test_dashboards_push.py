"""`safecampus dashboards push` through grafana-client to a mock of Grafana's HTTP API (Grafana itself cannot
be installed here): every board posted to /api/dashboards/db with the token, overwrite on; refusals said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from safecampus.dashboards import grafana


class FakeGrafana(BaseHTTPRequestHandler):
    got: list[tuple[str, str, dict[str, Any]]] = []
    refuse = False

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeGrafana.got.append((self.path, self.headers.get("Authorization", ""), body))
        if FakeGrafana.refuse:
            self._answer(
                412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
            )
            return
        uid = body["dashboard"]["uid"]
        self._answer(200, {"id": 1, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": 1})

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[str]:
    FakeGrafana.got, FakeGrafana.refuse = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def push(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "safecampus.cli", "dashboards", "push", "--url", url, *extra]
    env = {**os.environ, "GRAFANA_TOKEN": "glsa_test"}  # from the environment: a token on the command line shows in ps
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, env=env)


def test_every_board_is_uploaded_with_the_token(fake: str) -> None:
    result = push(fake, "--folder-uid", "safecampus")
    assert result.returncode == 0, result.stderr
    uploads = [(path, auth) for path, auth, _ in FakeGrafana.got]
    assert uploads == [("/api/dashboards/db", "Bearer glsa_test")] * len(grafana.BOARDS)
    bodies = [body for _, _, body in FakeGrafana.got]
    assert [b["dashboard"]["uid"] for b in bodies] == [b.uid for b in grafana.BOARDS]
    assert all(b["overwrite"] is True and b["folderUid"] == "safecampus" for b in bodies)
    assert bodies[0]["dashboard"] == grafana.build(grafana.CONTROL_ROOM)
    assert "已上传 pushed safecampus-control-room" in result.stdout


def test_a_refusal_and_an_absent_grafana_are_one_line_each(fake: str) -> None:
    FakeGrafana.refuse = True
    refused = push(fake)
    assert refused.returncode == 1 and "Grafana refused safecampus-control-room" in refused.stderr
    assert "Traceback" not in refused.stderr
    gone = push("http://127.0.0.1:9")
    assert gone.returncode == 1 and "cannot reach Grafana" in gone.stderr and "Traceback" not in gone.stderr
