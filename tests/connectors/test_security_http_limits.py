"""The HTTP camera gateway holds (issue 10): each fault of its list, over real HTTP on loopback."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from safecampus.connectors.security.http import SecurityHttpGateway
from safecampus.connectors.security.http_wire import HttpLimits
from safecampus.connectors.security.tokens import TokenStore, hash_token, new_token
from safecampus.schemas.envelope import RawEnvelope

FAST = HttpLimits(header_timeout_s=0.5, body_grace_s=0.5, min_body_rate=1024)


def serve(limits: HttpLimits = FAST, **options: object) -> tuple[SecurityHttpGateway, list[RawEnvelope]]:
    received: list[RawEnvelope] = []
    gateway = SecurityHttpGateway(received.append, port=0, max_body_bytes=64 * 1024, limits=limits, **options)  # type: ignore[arg-type]
    gateway.start()
    return gateway, received


@pytest.fixture
def gateway() -> Iterator[tuple[SecurityHttpGateway, list[RawEnvelope]]]:
    gw, received = serve()
    try:
        yield gw, received
    finally:
        gw.stop()


def exchange(port: int, data: bytes, half_close: bool = False, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def head(length: int | None = None, chunked: bool = False, extra: str = "") -> bytes:
    lines = "POST /alarmbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n" + extra
    if chunked:
        lines += "Transfer-Encoding: chunked\r\n"
    if length is not None:
        lines += f"Content-Length: {length}\r\n"
    return (lines + "\r\n").encode()


def test_a_chunk_size_of_minus_one_is_a_400_at_once(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    for size in (b"-1", b"zz", b"", b"1" * 17):
        started = time.monotonic()
        answer = exchange(gw.bound_port, head(chunked=True) + size + b"\r\n" + b"x" * 100)  # client keeps the socket
        assert answer.startswith(b"HTTP/1.1 400") and time.monotonic() - started < 0.4
    assert received == [] and gw.counts["bad_chunk"] == 4


def test_a_chunked_body_over_the_limit_is_a_413(gateway: tuple[SecurityHttpGateway, list[RawEnvelope]]) -> None:
    gw, received = gateway
    chunk = b"8000\r\n" + b"x" * 0x8000 + b"\r\n"
    assert exchange(gw.bound_port, head(chunked=True) + chunk * 3 + b"0\r\n\r\n").startswith(b"HTTP/1.1 413")
    assert received == [] and gw.counts["too_large"] == 1


def test_a_body_shorter_than_its_content_length_is_a_400_and_not_stored(
    gateway: tuple[SecurityHttpGateway, list[RawEnvelope]],
) -> None:
    gw, received = gateway
    assert exchange(gw.bound_port, head(100) + b"{}" * 10, half_close=True).startswith(b"HTTP/1.1 400")
    assert received == [] and gw.counts["short_body"] == 1


def test_slowloris_heads_and_bodies_are_dropped_in_seconds(
    gateway: tuple[SecurityHttpGateway, list[RawEnvelope]],
) -> None:
    gw, received = gateway
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gw.bound_port), timeout=5) as sock, pytest.raises(OSError):
        for byte in head(10):  # BrokenPipe / reset once the gateway hangs up
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                raise AssertionError("the slow head was never dropped")
    with socket.create_connection(("127.0.0.1", gw.bound_port), timeout=5) as sock:
        sock.sendall(head(4000) + b"x" * 10)  # then nothing: under the minimum body rate
        assert sock.recv(1024).startswith(b"HTTP/1.1 408")
    assert gw.counts["header_timeout"] == 1 and gw.counts["body_timeout"] == 1 and received == []


def test_excess_connections_get_a_quick_503() -> None:
    gw, _ = serve(replace(FAST, max_connections=4, header_timeout_s=5))
    try:
        idle = [socket.create_connection(("127.0.0.1", gw.bound_port)) for _ in range(4)]
        time.sleep(0.1)
        started = time.monotonic()
        assert exchange(gw.bound_port, head(2) + b"{}").startswith(b"HTTP/1.1 503")
        assert time.monotonic() - started < 1 and gw.counts["connection_cap"] == 1
        for sock in idle:
            sock.close()
    finally:
        gw.stop()


def test_the_listen_backlog_is_real() -> None:
    gw, _ = serve()
    try:
        assert gw.limits.backlog >= 128
        # 300 connections at once, none served yet: all complete their handshake (a backlog of 5 could not)
        socks = [socket.create_connection(("127.0.0.1", gw.bound_port), timeout=2) for _ in range(300)]
        for sock in socks:
            sock.close()
    finally:
        gw.stop()


def test_device_tokens_hashed_in_the_file_bearer_or_query(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = new_token()
    path = tmp_path / "tokens"
    path.write_text(f"# cameras\nnvr-s0005-1 {hash_token(token)}\n", encoding="utf-8")
    assert token not in path.read_text(encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        gw, received = serve(tokens=TokenStore.from_file(path))
        try:
            assert exchange(gw.bound_port, head(2) + b"{}").startswith(b"HTTP/1.1 401")
            assert exchange(gw.bound_port, head(2, extra="Authorization: Bearer nope-nope-nope-nope\r\n") + b"{}")[
                :12
            ] == (b"HTTP/1.1 401")
            assert exchange(gw.bound_port, head(2, extra=f"Authorization: Bearer {token}\r\n") + b"{}").startswith(
                b"HTTP/1.1 200"
            )
            query = head(2).replace(b"POST /alarmbox ", f"POST /alarmbox?token={token} ".encode())
            assert exchange(gw.bound_port, query + b"{}").startswith(b"HTTP/1.1 200")
        finally:
            gw.stop()
    assert len(received) == 2 and gw.counts["unauthorized"] == 2
    assert all(token not in record.getMessage() for record in caplog.records)


def test_client_hang_ups_are_one_quiet_line_and_refusals_one_info_line(
    gateway: tuple[SecurityHttpGateway, list[RawEnvelope]], caplog: pytest.LogCaptureFixture
) -> None:
    gw, _ = gateway
    with caplog.at_level(logging.DEBUG, logger="safecampus.connectors.security.http"):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", gw.bound_port)) as sock:
                sock.sendall(head(2000) + b"x" * 100)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
        for _ in range(5):
            exchange(gw.bound_port, b"GET /nowhere HTTP/1.1\r\n\r\n")
        time.sleep(0.3)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.INFO  # five 404s from one address, folded
    assert gw.counts["unknown_path"] == 5
