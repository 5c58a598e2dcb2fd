"""The plain reading of Content-Type / Content-Disposition (:mod:`parsers.mime_params`) gives
what ``email.policy.default`` gives, or steps aside (None) for the full parser."""

from __future__ import annotations

import random
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.policy import default as default_policy
from pathlib import Path

import pytest

from parsers.mime import (
    _plain_headers,
    clean_text,
    header,
    header_field,
    split_message,
    split_multipart,
)
from parsers.mime_params import (
    ABSENT,
    simple_field,
    simple_field_of,
    simple_structured,
    simple_unstructured,
)
from tests.dovecot import pec_envelope, pec_receipt

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

PLAIN = [
    ("Content-Type", "text/plain"),
    ("Content-Type", "TEXT/Plain; Charset=UTF-8"),
    ("Content-Type", 'multipart/mixed;\r\n boundary="----=_Part_1_2.3"'),
    ("Content-Type", "multipart/signed; protocol=\"application/pkcs7-signature\"; "
                     "micalg=sha-256; boundary=abc;"),
    ("Content-Type", 'application/pdf; name="allegato 1; firmato.pdf"'),
    ("Content-Type", 'application/octet-stream; name=""'),
    ("Content-Disposition", "attachment"),
    ("Content-Disposition", 'Attachment; filename="Allegato_1.docx"; size=1234'),
    ("Content-Disposition", "inline;\tfilename=daticert.xml"),
]
NOT_PLAIN = [
    ("Content-Type", "text/plain; name=\"=?utf-8?q?caf=C3=A8.txt?=\""),
    ("Content-Type", "application/pdf; name*=utf-8''caf%C3%A8.pdf"),
    ("Content-Type", "application/pdf; name*0=a; name*1=b.pdf"),
    ("Content-Type", "text/plain (a comment); charset=us-ascii"),
    ("Content-Type", 'text/plain; name="a\\"b"'),
    ("Content-Type", "text/plain; charset=utf-8; charset=latin-1"),
    ("Content-Type", "text"),
    ("Content-Type", "text/plain; name=caffè.txt"),
    ("Content-Type", "text/plain; charset"),
    ("Content-Disposition", "attachment/pdf; filename=a"),
    ("Content-Disposition", ""),
]


def _agrees(name: str, raw: str) -> bool:
    """Whether ``raw`` was read plainly (then as the full parser reads it)."""
    simple = simple_field(raw, subtype=name == "Content-Type")
    if simple is None:
        return False
    full = default_policy.header_fetch_parse(name, raw)
    value = full.content_type if name == "Content-Type" else full.content_disposition
    assert simple.value == value.lower(), raw
    assert dict(simple.params) == {k.lower(): v for k, v in full.params.items()}, raw
    return True


@pytest.mark.parametrize(("name", "raw"), PLAIN)
def test_plain_fields_read_as_the_full_parser_reads_them(name: str, raw: str) -> None:
    assert simple_field(raw, subtype=name == "Content-Type") is not None
    _agrees(name, raw)


@pytest.mark.parametrize(("name", "raw"), NOT_PLAIN)
def test_anything_else_is_left_to_the_full_parser(name: str, raw: str) -> None:
    assert simple_field(raw, subtype=name == "Content-Type") is None


def test_an_absent_field_is_absent() -> None:
    part = split_message(b"Subject: x\r\n\r\nbody")
    assert simple_field_of(part.headers, "Content-Type") is ABSENT
    assert part.ctype == "text/plain" and part.disposition is None and part.filename is None


def _fields(raw: bytes) -> list[tuple[str, str]]:
    """Every Content-Type / Content-Disposition line of ``raw`` (unfolded), at any depth."""
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        part = split_message(block + b"\n\n")
        for key, value in part.headers.raw_items():
            if key.lower() in ("content-type", "content-disposition") and isinstance(value, str):
                out.append(("Content-Type" if key.lower() == "content-type"
                            else "Content-Disposition", value))
    return out


@pytest.mark.skipif(not any(CORPUS.rglob("*.eml")), reason=f"corpus not present at {CORPUS}")
def test_generated_and_real_mail_agree_field_by_field() -> None:
    messages = [pec_envelope(1), pec_envelope(2, attachment=None), pec_receipt(3)]
    messages += [p.read_bytes() for p in sorted(CORPUS.rglob("*.eml"))]
    fields = [f for raw in messages for f in _fields(raw)]
    plain = [_agrees(name, raw) for name, raw in fields]
    assert len(fields) > 20 and sum(plain) > len(fields) // 2


def _by_regex(body: bytes, boundary: str, max_parts: int) -> tuple[list[bytes], bool]:
    """The delimiter search as a regular expression (RFC 2046 5.1.1), for comparison."""
    pattern = re.compile(rb"^--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*\r?$",
                         re.MULTILINE)
    marks = list(pattern.finditer(body))[:max_parts + 1]
    parts: list[bytes] = []
    for index, mark in enumerate(marks):
        if mark.group(1):
            return parts, True
        start = mark.end() + (body[mark.end():mark.end() + 1] == b"\n")
        if index + 1 < len(marks):
            end = marks[index + 1].start() - 1
            end -= end > 0 and body[end - 1:end] == b"\r"
            parts.append(body[start:max(start, end)])
        else:
            parts.append(body[start:])
    return parts, False


BODIES = [
    b"preamble\r\n--b\r\none\r\n--b\r\ntwo\r\n--b--\r\nepilogue",
    b"--b\nA\n--b \t\nB\n--b--",
    b"--b\r\nA\r\n--bx\r\n--b-\r\n--b---\r\nx--b\r\n--b\r\r\nB\r\n--b--  \r\n",
    b"--b\nA\n--b",
    b"no delimiter at all",
    b"--b\n--b\n--b\n--b\n--b\n--b\n",
    b"",
    b"--b--",
]


@pytest.mark.parametrize("body", BODIES)
def test_multipart_split_finds_the_delimiters_the_rfc_names(body: bytes) -> None:
    for limit in (1, 3, 100):
        assert split_multipart(body, "b", limit) == _by_regex(body, "b", limit)


def test_plain_unstructured_fields_read_as_the_full_parser_reads_them() -> None:
    rnd = random.Random(15)
    pieces = [chr(i) for i in range(128)] + list("ab =?()\"\\\r\n\t ;:<>@.")
    checked = 0
    for _ in range(20000):
        raw = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 40)))
        plain = simple_unstructured(raw)
        if plain is None:
            assert "=?" in raw
            continue
        checked += 1
        for name in ("Subject", "X-Ricevuta", "Auto-Submitted"):
            assert plain == str(default_policy.header_fetch_parse(name, raw)), raw
    assert checked > 10000
    assert simple_unstructured("=?utf-8?q?caff=C3=A8?=") is None
    assert simple_unstructured("caffè") is None


def test_header_reads_plain_and_encoded_subjects_alike() -> None:
    part = split_message(b"Subject: =?utf-8?q?Domanda_caff=C3=A8?=\r\n"
                         b"X-Ricevuta: accettazione\r\n"
                         b"X-Trasporto:\r\n  posta-certificata \r\n\r\n")
    assert header(part.headers, "Subject") == "Domanda caffè"
    assert header(part.headers, "x-ricevuta") == "accettazione"
    assert header(part.headers, "X-Trasporto") == "posta-certificata"
    assert header(part.headers, "Auto-Submitted") is None


def test_random_parameters_read_as_the_full_parser_reads_them() -> None:
    rnd = random.Random(3)
    chars = [chr(i) for i in range(128)]
    plain = 0
    for _ in range(3000):
        name = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 12)))
        for kind, raw in (("Content-Disposition", f'attachment; filename="{name}"'),
                          ("Content-Type", f'application/pdf; name="{name}"'),
                          ("Content-Disposition", f"attachment; filename={name}")):
            plain += _agrees(kind, raw)
    assert plain > 3000


def _full_header(raw: bytes, name: str) -> str | None:
    """What :func:`parsers.mime.header` gave before the plain path: the full parser's reading."""
    headers = split_message(raw).headers
    parsed = header_field(headers, name)
    if parsed is not None:
        return clean_text(str(parsed)).strip()
    value = next((v for k, v in headers.raw_items() if k.lower() == name.lower()), None)
    return clean_text(" ".join(str(value).split())) if value is not None else None


def test_plain_structured_fields_read_as_the_full_parser_reads_them() -> None:
    rnd = random.Random(21)
    atext = list("abzAZ09!#$%&'*+/^_`{|}~-")
    junk = [chr(i) for i in range(33, 127)] + list(" \t=?.@<>()\"\\[]:;,")
    plain = total = 0
    for _ in range(300):
        atoms = ["".join(rnd.choice(atext) for _ in range(rnd.randint(1, 6)))
                 for _ in range(rnd.randint(1, 5))]
        dot_atom = ".".join(atoms)
        candidates = [
            f"<{dot_atom}@{rnd.choice(atoms)}.example>",
            f"{dot_atom}@{rnd.choice(atoms)}.{rnd.choice(atoms)}",
            f"{rnd.choice(atoms)} <{dot_atom}@{rnd.choice(atoms)}>",
            f"<{dot_atom}>",
            "".join(rnd.choice(junk) for _ in range(rnd.randint(0, 30))),
            "".join(rnd.choice([*atext, ".", "@", "<", ">"]) for _ in range(rnd.randint(0, 20))),
            "".join(rnd.choice("aB9-_. \t=?") for _ in range(rnd.randint(0, 10))),
        ]
        for value in candidates:
            for name in ("Message-ID", "Content-Transfer-Encoding", "content-transfer-encoding",
                         "From", "Reply-To"):
                raw = f"{name}: {value}\r\nX-Altro: 1\r\n\r\n".encode()
                got = header(split_message(raw).headers, name)
                assert got == _full_header(raw, name), (name, value)
                total += 1
                plain += simple_structured(name.lower(), value.lstrip(" \t")) is not None
    assert plain > 500 and total - plain > 3000, (plain, total)
    absent = split_message(b"Subject: x\r\n\r\n").headers
    assert header(absent, "Message-ID") is None and _full_header(b"Subject: x\r\n\r\n",
                                                                 "Message-ID") is None


def test_structured_fields_that_are_not_plain_take_the_full_parser() -> None:
    for name, value in (("message-id", "<a..b@c>"), ("message-id", "<=?utf-8?q?a?=@b>"),
                        ("message-id", "<a@b> (comment)"), ("message-id", " <a@b>"),
                        ("content-transfer-encoding", "base64 "),
                        ("content-transfer-encoding", "base64 (x)"), ("from", "a@b."),
                        ("from", "Name <a@b>"), ("from", "a@b, c@d"), ("reply-to", "a@b@c")):
        assert simple_structured(name, value) is None
    for name, value in (("message-id", "<opec.1.2@pec.example.it>"),
                        ("content-transfer-encoding", "BASE64"), ("from", "posta@pec.it")):
        assert simple_structured(name, value) == value


def _parsed_state(message: Message) -> dict[str, object]:
    state = dict(vars(message))
    state["defects"] = [(type(d), d.args) for d in message.defects]
    return state


def test_plain_header_split_builds_what_the_feed_parser_builds() -> None:
    rnd = random.Random(5)
    pieces = ["Subject: a", "X-Ricevuta:accettazione", "From: a@b", " cont", "\tcont", "Name:",
              "Ab-C:  v ", "To: caff\udce8", "A:\x0b\x0c\x1c b", "N: a\x7f",  # plain so far
              "From x", "From :x", ":x", "a b: c", "x", "", "\r", "caff\udce8: x", "A: b\rc",
              "N\x7f: v", "N\udc85: v", " first"]
    plain = 0
    for _ in range(4000):
        choices = pieces[: rnd.choice((10, 10, len(pieces)))]
        lines = [rnd.choice(choices) for _ in range(rnd.randint(0, 6))]
        ending = rnd.choice(("\n", "\r\n", "\n", ""))
        text = "\n".join(line + (ending[:-1] if ending else "") for line in lines) + ending
        head = text.encode("ascii", "surrogateescape")
        built = _plain_headers(head)
        if built is not None:
            plain += 1
            parsed = BytesParser(policy=compat32).parsebytes(head + b"\n", headersonly=True)
            assert _parsed_state(built) == _parsed_state(parsed), head
    assert plain > 1000, plain
    for sample in (pec_envelope(3, attachment=b"x", tag="t"), pec_receipt(4, "t")):
        head = sample[: sample.index(b"\r\n\r\n") + 2]
        assert _plain_headers(head) is not None
        assert _parsed_state(split_message(sample).headers) == _parsed_state(
            BytesParser(policy=compat32).parsebytes(head + b"\n", headersonly=True)
        )
