"""The safe XML entry of the security domain: DTDs, entities, encodings, size, lookups."""

from __future__ import annotations

import builtins
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from safecampus.connectors.security.xml import (
    MAX_XML_BYTES,
    SecurityDecodeError,
    child,
    child_text,
    local_name,
    parse_untrusted_xml,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<EventNotificationAlert><eventDescription>&lol9;</eventDescription></EventNotificationAlert>
"""


@pytest.fixture
def no_io(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and block) any network connection or file open made while parsing."""
    attempts: list[str] = []
    real_open = builtins.open

    def refuse_network(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"network {args!r}")
        raise AssertionError("the parser tried to reach the network")

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"open {file!r}")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", refuse_network)
    monkeypatch.setattr(socket, "create_connection", refuse_network)
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    monkeypatch.setattr(builtins, "open", spy_open)
    return attempts


def test_parses_plain_xml_with_namespace() -> None:
    root = parse_untrusted_xml(
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
        b'<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        b"<channelID>3</channelID><eventType>VMD</eventType></EventNotificationAlert>"
    )
    assert local_name(root.tag) == "EventNotificationAlert"
    assert child_text(root, "channelID") == "3"
    assert child_text(root, "eventtype") == "VMD"  # letter case does not matter either
    assert child_text(root, "missing") is None


def test_lookup_ignores_namespace_and_blank_text() -> None:
    root = parse_untrusted_xml(b'<a xmlns="http://www.hikvision.com/ver10/XMLSchema"><b>  </b><c> x </c><d/></a>')
    assert child(root, "b") is not None
    assert child_text(root, "b") is None
    assert child_text(root, "c") == "x"
    assert child_text(root, "d") is None
    assert local_name("{urn:psialliance-org}ipAddress") == "ipAddress"
    assert local_name("ipAddress") == "ipAddress"


def test_utf8_bom_is_accepted() -> None:
    root = parse_untrusted_xml(b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?><Notify/>")
    assert root.tag == "Notify"


@pytest.mark.parametrize("declared", ["GB2312", "gb2312", "GBK", "GB18030"])
def test_gb_declared_bodies_are_decoded_with_their_encoding(declared: str) -> None:
    text = (
        f'<?xml version="1.0" encoding="{declared}"?>\r\n'
        "<Notify><AlarmDescription>东门周界入侵报警</AlarmDescription></Notify>"
    )
    root = parse_untrusted_xml(text.encode("gb2312"))
    assert child_text(root, "AlarmDescription") == "东门周界入侵报警"


def test_gbk_characters_in_a_gb2312_declared_body_survive() -> None:
    # 堃 is GBK but not GB2312; devices declare GB2312 and send it anyway.
    text = '<?xml version="1.0" encoding="GB2312"?><Notify><AlarmDescription>堃</AlarmDescription></Notify>'
    root = parse_untrusted_xml(text.encode("gbk"))
    assert child_text(root, "AlarmDescription") == "堃"


def test_unknown_declared_encoding_is_refused() -> None:
    with pytest.raises(SecurityDecodeError, match="unknown encoding 'x-klingon'"):
        parse_untrusted_xml(b'<?xml version="1.0" encoding="x-klingon"?><Notify/>')


def test_bytes_not_in_the_declared_encoding_are_refused() -> None:
    with pytest.raises(SecurityDecodeError, match="declares encoding 'gb2312' but byte"):
        parse_untrusted_xml(b'<?xml version="1.0" encoding="GB2312"?><Notify>\xff\xff</Notify>')


@pytest.mark.parametrize(
    "payload",
    [
        b"<EventNotificationAlert><eventType>VMD</eventType>",
        b"<a><b></a></b>",
        b"not xml at all",
        b"<a>&undefined;</a>",
        b"<a>\x00</a>",
    ],
)
def test_malformed_xml_is_one_readable_line(payload: bytes) -> None:
    with pytest.raises(SecurityDecodeError) as info:
        parse_untrusted_xml(payload)
    message = str(info.value)
    assert "\n" not in message
    assert "XML" in message


def test_empty_payload() -> None:
    with pytest.raises(SecurityDecodeError, match="empty"):
        parse_untrusted_xml(b"  \r\n")


def test_oversize_payload_is_refused_before_parsing() -> None:
    payload = b"<a>" + b"x" * MAX_XML_BYTES + b"</a>"
    with pytest.raises(SecurityDecodeError, match="above the 262144-byte limit"):
        parse_untrusted_xml(payload)


def test_payload_at_the_limit_is_accepted() -> None:
    payload = b"<a>" + b"x" * (MAX_XML_BYTES - 7) + b"</a>"
    assert len(payload) == MAX_XML_BYTES
    assert parse_untrusted_xml(payload).tag == "a"


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(SecurityDecodeError) as info:
        parse_untrusted_xml(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0
    assert str(info.value) == "refused: the XML declares entities (possible entity-expansion attack)"


def test_parameter_entity_bomb_is_refused() -> None:
    payload = b"<!DOCTYPE a [<!ENTITY % p \"<!ENTITY x 'boom'>\"> %p;]><a>&x;</a>"
    with pytest.raises(SecurityDecodeError, match="entities"):
        parse_untrusted_xml(payload)


def test_external_file_entity_is_refused_without_reading_the_file(tmp_path: Path, no_io: list[str]) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-MARKER\n")
    no_io.clear()
    payload = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        "<EventNotificationAlert><eventDescription>&xxe;</eventDescription></EventNotificationAlert>"
    ).encode()
    with pytest.raises(SecurityDecodeError) as info:
        parse_untrusted_xml(payload)
    assert "external entity" in str(info.value)
    assert "SECRET-MARKER" not in str(info.value)
    assert no_io == []


def test_etc_passwd_entity_is_refused(no_io: list[str]) -> None:
    payload = b'<!DOCTYPE foo [<!ENTITY x SYSTEM "file:///etc/passwd">]><Notify>&x;</Notify>'
    with pytest.raises(SecurityDecodeError, match="external entity .*XXE"):
        parse_untrusted_xml(payload)
    assert no_io == []


def test_http_external_entity_makes_no_network_call(no_io: list[str]) -> None:
    payload = (
        b'<?xml version="1.0" encoding="GB2312"?>'
        b'<!DOCTYPE Notify [<!ENTITY x SYSTEM "http://203.0.113.9/steal">]><Notify>&x;</Notify>'
    )
    with pytest.raises(SecurityDecodeError, match="entity"):
        parse_untrusted_xml(payload)
    assert no_io == []


def test_external_dtd_is_not_fetched(no_io: list[str]) -> None:
    payload = b'<!DOCTYPE Notify SYSTEM "http://203.0.113.9/evil.dtd"><Notify/>'
    with pytest.raises(SecurityDecodeError, match="external DTD; it was not fetched"):
        parse_untrusted_xml(payload)
    assert no_io == []


def test_plain_doctype_is_refused() -> None:
    with pytest.raises(SecurityDecodeError, match="document type"):
        parse_untrusted_xml(b"<!DOCTYPE Notify><Notify/>")


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(SecurityDecodeError, ValueError)


def test_undeclared_gb2312_bytes_are_read_as_gb18030() -> None:
    payload = '<?xml version="1.0"?><Notify><AlarmDescription>操场入侵</AlarmDescription></Notify>'.encode("gb2312")
    assert child_text(parse_untrusted_xml(payload), "AlarmDescription") == "操场入侵"


def test_undeclared_utf8_stays_utf8() -> None:
    payload = "<Notify><AlarmDescription>操场入侵</AlarmDescription></Notify>".encode()
    assert child_text(parse_untrusted_xml(payload), "AlarmDescription") == "操场入侵"
