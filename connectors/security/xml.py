"""The one way to parse XML from security devices: untrusted bytes in, an Element out.

Cameras, NVRs and GB/T 28181 platforms post XML we do not control, so every XML payload of
the security domain goes through `parse_untrusted_xml`: no DTD, no entities, no external
references, a size cap, and GB/T 28181's habit of declaring `encoding="GB2312"` (or sending
GB bytes with no declaration at all) handled.
Failures raise `SecurityDecodeError`, whose str() is one plain-words line for the DLQ.

The lookup helpers ignore XML namespaces, because the same ISAPI alert arrives with
`xmlns="http://www.hikvision.com/ver20/XMLSchema"`, the ver10 namespace or none at all.

Example:
    >>> root = parse_untrusted_xml(b"<Notify><CmdType>Keepalive</CmdType></Notify>")
    >>> child_text(root, "CmdType")
    'Keepalive'
"""

from __future__ import annotations

import codecs
import re
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_etree
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

# A device alert is a few KiB; anything this large is a mistake or an attack.
MAX_XML_BYTES = 256 * 1024

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# Encodings expat reads natively from bytes; anything else is decoded by Python first.
_EXPAT_NATIVE = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "utf-16"}
# Devices declare GB2312 but send GBK characters; GB18030 reads both, byte for byte.
_GB_FAMILY = {"gb2312", "gbk", "cp936", "gb18030", "euc-cn", "x-gbk"}
# Character sets, as Python's codec registry names them (codecs.lookup(...).name).
_CHARSET = re.compile(
    r"utf-(8|16|32)(-[lb]e)?|ascii|iso8859-\d+|cp\d+|gb\w*|big5\w*|euc_\w+|shift_jis\w*|koi8-\w|mac-\w+"
    r"|iso2022_\w+|hz|johab|tis-620|ptcp154|kz1048"
)
_ENTITY_DECL = re.compile(r"<!ENTITY\b")
_EXTERNAL_ENTITY_DECL = re.compile(r"<!ENTITY\s+(?:%\s*)?[^\s>]+\s+(?:SYSTEM|PUBLIC)\b")


class SecurityDecodeError(ValueError):
    """A security payload we cannot use; str() is one plain-words line saying why."""


def parse_untrusted_xml(data: bytes) -> Element:
    """Parse device XML with DTDs, entities and external references refused.

    Raises SecurityDecodeError for an empty or oversize payload, an unknown or wrong declared
    encoding, malformed XML, and any DTD or entity declaration (entity bombs, XXE).
    """
    if not data.strip():
        raise SecurityDecodeError("the XML payload is empty")
    if len(data) > MAX_XML_BYTES:
        raise SecurityDecodeError(
            f"refused: the XML payload is {len(data)} bytes, above the {MAX_XML_BYTES}-byte limit"
        )
    text = _decode_declared(data)
    try:
        root: Element = safe_etree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise SecurityDecodeError(_why_dtd_refused(data)) from exc
    except EntitiesForbidden as exc:
        raise SecurityDecodeError("refused: the XML declares entities (possible entity-expansion attack)") from exc
    except ExternalReferenceForbidden as exc:
        raise SecurityDecodeError(
            "refused: the XML refers to an external entity (possible XXE attack); it was not fetched"
        ) from exc
    except DefusedXmlException as exc:
        raise SecurityDecodeError(f"refused: the XML uses a forbidden construct ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise SecurityDecodeError(f"the payload is not well-formed XML ({exc})") from exc
    except ValueError as exc:
        raise SecurityDecodeError(f"the payload cannot be read as XML ({exc})") from exc
    return root


def _decode_declared(data: bytes) -> bytes | str:
    """Bytes expat reads itself, or text decoded with the encoding the XML declaration names."""
    match = _DECLARED_ENCODING.match(data.removeprefix(codecs.BOM_UTF8))
    if match is None:
        return _undeclared(data)
    declared = match.group(1).decode("ascii").lower()
    if declared in _EXPAT_NATIVE:
        return data
    codec = "gb18030" if declared in _GB_FAMILY else declared
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        name = ""
    # Python's codec registry also holds transforms (hex, rot13, zlib) and pseudo-codecs (undefined,
    # punycode, idna, unicode_escape): none is a character set a device writes XML in.
    if _CHARSET.fullmatch(name) is None:
        shown = declared if len(declared) <= 40 else declared[:37] + "..."
        raise SecurityDecodeError(
            f"the XML declares an unknown encoding {shown!r}; expected a character set such as UTF-8 or GB2312"
        )
    try:
        # expat ignores the declaration when given text, so the decoded characters stand.
        return data.decode(codec)
    except UnicodeError as exc:
        where = f"byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else "the text"
        raise SecurityDecodeError(f"the XML declares encoding {declared!r} but {where} is not valid in it") from None


def _undeclared(data: bytes) -> bytes | str:
    """UTF-8 as XML says; GB18030 when it is not UTF-8 (GB/T 28181 devices omit the declaration)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            return data  # expat reports where the bytes go wrong
    return data


def _why_dtd_refused(data: bytes) -> str:
    """Name what the refused DTD tried to do; nothing in it was expanded or fetched."""
    text = data.decode("utf-8", errors="replace")
    if _EXTERNAL_ENTITY_DECL.search(text):
        return (
            "refused: the XML declares an external entity (SYSTEM/PUBLIC reference, possible XXE attack); "
            "it was not fetched"
        )
    if _ENTITY_DECL.search(text):
        return "refused: the XML declares entities (possible entity-expansion attack)"
    if re.search(r"<!DOCTYPE[^>\[]*\b(?:SYSTEM|PUBLIC)\b", text):
        return "refused: the XML refers to an external DTD; it was not fetched"
    return "refused: the XML declares a document type (DTD); device payloads never need one"


def local_name(tag: str) -> str:
    """An element tag without its namespace: '{http://...}channelID' -> 'channelID'."""
    return tag.rsplit("}", 1)[-1]


def child(parent: Element, name: str) -> Element | None:
    """The first direct child named `name`, ignoring namespace and letter case."""
    wanted = name.lower()
    for element in parent:
        if isinstance(element.tag, str) and local_name(element.tag).lower() == wanted:
            return element
    return None


def child_text(parent: Element, name: str) -> str | None:
    """The stripped text of the first direct child named `name`; None when absent or empty."""
    element = child(parent, name)
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None
