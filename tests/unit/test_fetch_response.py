"""pec_ingest.fetch_response against imapclient's parse_fetch_response: same values and types on
well-formed FETCH data (hand-made here; captured from Dovecot in
tests/integration/test_fetch_response.py), imapclient's ProtocolError on broken data."""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any

import pytest
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response

from pec_ingest.fetch_response import parse_fetch


def typed(value: Any) -> Any:
    """``value`` with the type of every node spelled out (BodyData != tuple != list)."""
    if isinstance(value, dict):
        return ("dict", frozenset((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(typed(v) for v in value))
    if isinstance(value, datetime):
        return ("datetime", value, value.utcoffset())
    return (type(value).__name__, value)


def same_as_imapclient(data: list[Any], **options: bool) -> dict[int, dict[bytes, Any]]:
    ours = parse_fetch(list(data), **options)
    theirs = dict(parse_fetch_response(list(data), **options))
    assert typed(ours) == typed(theirs)
    return ours


def lit(text: bytes, literal: bytes) -> tuple[bytes, bytes]:
    """A line ending in a literal, as imaplib hands it over: (text {n}, literal)."""
    return text + b"{%d}" % len(literal), literal


MULTIPART = (b'(("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "quoted-printable" '
             b'120 4 NIL NIL NIL NIL)("application" "pdf" ("name" "=?utf-8?q?citt=C3=A0?=.pdf") '
             b'"<id@x>" "desc \\"q\\" \\\\ end" "base64" 2048 NIL ("attachment" ("filename" '
             b'"a.pdf" "size" "12")) ("it" "en") "http://x/y") "mixed" ("boundary" "==b1==") '
             b'NIL NIL NIL)')

WELL_FORMED: dict[str, list[Any]] = {
    "empty": [None],
    "size and date": [b'12 (UID 40 RFC822.SIZE 1234 INTERNALDATE "05-Sep-2019 10:00:00 +0200")'],
    "header literal then more items": [
        lit(b"1 (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT FROM)] ", b"Subject: x\r\n\r\n"),
        b' RFC822.SIZE 99 INTERNALDATE " 5-Sep-2019 10:00:00 -0000")'],
    "empty header literal": [(b'1 (UID 5 BODY[HEADER.FIELDS (FROM)] {2}', b"\r\n"), b")"],
    "header field names quoted (as some servers echo them)": [
        lit(b'1 (UID 5 BODY[HEADER.FIELDS ("MESSAGE-ID" "SUBJECT")] ', b"Subject: x\r\n\r\n"),
        b")"],
    "zero-length literal": [(b'1 (UID 5 BODY[] {0}', b""), b")"],
    "multipart structure": [b"3 (UID 10 BODYSTRUCTURE " + MULTIPART + b")"],
    "nested multipart": [b'4 (UID 11 BODYSTRUCTURE ((' + MULTIPART[1:-1] + b')("text" "html" '
                         b'NIL NIL NIL "7bit" 1 1) "alternative" NIL NIL NIL))'],
    "literal inside a structure": [
        lit(b'5 (UID 12 BODYSTRUCTURE ("application" "pdf" ("name" ', "città.pdf".encode()),
        b') NIL NIL "base64" 10 NIL NIL NIL NIL))'],
    "message/rfc822 with an envelope": [
        b'6 (UID 13 BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 300 ("Thu, 5 Sep 2019 '
        b'10:00:00 +0200" "Pratica \\"1\\" a\\\\b" (("Ente" NIL "ente" "pec.example")) NIL NIL '
        b'NIL NIL NIL NIL "<m@x>") ("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL) 9 '
        b'NIL NIL NIL NIL))'],
    "NIL everywhere": [b'7 (UID 14 BODYSTRUCTURE ("text" "plain" NIL NIL NIL NIL 0 0 NIL NIL '
                       b'NIL NIL) RFC822.SIZE 0 INTERNALDATE NIL)'],
    "several responses, CRLF and tabs": [b"1 (UID 1 RFC822.SIZE 1)\r\n",
                                         b"2\t(UID 2  RFC822.SIZE 2)", b"3 (RFC822.SIZE 3 UID 3)"],
    "unsolicited flags": [b"1 (UID 1 RFC822.SIZE 1)", b"9 (FLAGS (\\Seen $Etichetta))"],
    "two responses for one message": [b"1 (UID 1 RFC822.SIZE 1)", b"1 (UID 1 FLAGS ())"],
    "lower case names, numbers kept as atoms": [b"1 (uid 3 x-thing 007 y 0 z 12a)"],
    "odd atoms": [b'1 (UID 3 A % B ] C \\Seen D "" E a]b[c d]x)'],
    "bad date becomes None": [b'1 (UID 3 INTERNALDATE "not a date")'],
    "empty list": [b"1 (UID 3 FLAGS ())"],
}


@pytest.mark.parametrize("name", WELL_FORMED)
@pytest.mark.parametrize("normalise", [True, False])
def test_same_values_as_imapclient(name: str, normalise: bool) -> None:
    same_as_imapclient(WELL_FORMED[name], normalise_times=normalise)


def test_values_and_types() -> None:
    answer = same_as_imapclient(WELL_FORMED["multipart structure"]
                                + WELL_FORMED["literal inside a structure"])
    structure = answer[10][b"BODYSTRUCTURE"]
    assert structure.is_multipart and structure[1] == b"mixed"
    assert structure[0][1][4] == b'desc "q" \\ end'
    assert answer[12][b"BODYSTRUCTURE"][2] == (b"name", "città.pdf".encode())
    date = same_as_imapclient(WELL_FORMED["size and date"], normalise_times=False)[40]
    assert date[b"INTERNALDATE"].utcoffset().total_seconds() == 7200
    assert date[b"SEQ"] == 12 and date[b"RFC822.SIZE"] == 1234


def test_keyed_by_sequence_number_on_request() -> None:
    answer = same_as_imapclient(WELL_FORMED["size and date"], uid_is_key=False)
    assert answer[12][b"UID"] == 40


HOSTILE: dict[str, list[Any]] = {
    "lists nested too deep": [b"1 (UID 5 BODYSTRUCTURE " + b"(" * 5000 + b'"text"'
                              + b")" * 5000 + b")"],
    "truncated list": [b"1 (UID 5 RFC822.SIZE 10"],
    "truncated structure": [b'1 (UID 5 BODYSTRUCTURE ("text" "plain" NIL'],
    "id without data": [b"1"],
    "too many closing": [b"1 (UID 5))"],
    "closing first": [b") 1 (UID 5)"],
    "unterminated quote": [b'1 (UID 5 X "abc)'],
    "quote ending in a backslash": [b'1 (UID 5 X "abc\\"'],
    "unclosed bracket": [b"1 (UID 5 BODY[HEADER.FIELDS (FROM) {3}"],
    "atom running into a quote": [b'1 (UID 5 X ab"c")'],
    "bracket running into a quote": [b'1 (UID 5 X a[b c]"q")'],
    "literal too short": [(b"1 (UID 5 BODY[] {10}", b"abc"), b")"],
    "literal too long": [(b"1 (UID 5 BODY[] {1}", b"abc"), b")"],
    "literal marker not a number": [(b"1 (UID 5 BODY[] {1x}", b"a"), b")"],
    "literal marker without literal": [b"1 (UID 5 BODY[] {3}", b"abc)"],
    "literal marker glued to an atom": [(b"1 (UID 5 BODY[]{3}", b"abc"), b")"],
    "literal not bytes": [(b"1 (UID 5 BODY[] {3}", "abc"), b")"],
    "record not bytes": ["1 (UID 5)"],
    "record of three": [(b"1 (UID 5 BODY[] {3}", b"abc", b"x"), b")"],
    "message id not a number": [b"x (UID 5)"],
    "message id a list": [b"(1) (UID 5)"],
    "data not a list": [b"1 UID"],
    "uneven items": [b"1 (UID 5 RFC822.SIZE)"],
    "uid not a number": [b"1 (UID x)"],
    "uid NIL": [b"1 (UID NIL)"],
    "item name a number": [b"1 (5 5)"],
    "item name a list": [b"1 ((UID) 5)"],
    "structure NIL": [b"1 (UID 5 BODYSTRUCTURE NIL)"],
    "structure empty": [b"1 (UID 5 BODYSTRUCTURE ())"],
    "structure part empty": [b'1 (UID 5 BODYSTRUCTURE (() "mixed"))'],
    "structure part NIL": [b'1 (UID 5 BODYSTRUCTURE (("text") NIL "mixed"))'],
    "date a list": [b"1 (UID 5 INTERNALDATE (1))"],
}


@pytest.mark.parametrize("name", HOSTILE)
def test_broken_data_raises_protocol_error(name: str) -> None:
    with pytest.raises(ProtocolError):
        parse_fetch(HOSTILE[name])


def _mutations(data: list[Any], rng: random.Random) -> list[Any]:
    """``data`` with one record cut short, stretched, or with one byte changed."""
    data = list(data)
    i = rng.randrange(len(data))
    record = data[i]
    text = record[0] if isinstance(record, tuple) else record
    where = rng.randrange(len(text) + 1)
    how = rng.choice(["cut", "drop", "insert", "literal"])
    if how == "cut":
        text = text[:where]
    elif how == "drop":
        text = text[:where] + text[where + 1:]
    elif how == "insert":
        text = text[:where] + bytes([rng.choice(b'()"\\[] {}0NIL\r\n%\x01')]) + text[where:]
    elif isinstance(record, tuple):
        return [*data[:i], (text, record[1][:-1] if record[1] else b"x"), *data[i + 1:]]
    data[i] = (text, record[1]) if isinstance(record, tuple) else text
    return data


def test_mutated_data_gives_imapclient_answer_or_protocol_error() -> None:
    """Random damage: never an IndexError/KeyError/TypeError; where imapclient reads the data
    we read the same thing, and where imapclient says ProtocolError so do we. We refuse a few
    that imapclient reads as junk (``BODY %`` gives BodyData((37,)); a literal after a line not
    ending in a ``{n}`` token, which imaplib never hands over, is silently dropped there)."""
    rng = random.Random(20191005)
    samples = [v for v in WELL_FORMED.values() if v != [None]]
    agreed = refused = stricter = 0
    for _ in range(3000):
        data = _mutations(rng.choice(samples), rng)
        try:
            ours: Any = parse_fetch(list(data))
        except ProtocolError:
            ours = ProtocolError
        try:
            theirs: Any = dict(parse_fetch_response(list(data)))
        except ProtocolError:
            theirs = ProtocolError
        except Exception:  # imapclient's own crashes on broken data (AttributeError...)
            theirs = None
        if theirs is ProtocolError:
            assert ours is ProtocolError, data
            refused += 1
        elif theirs is not None and ours is not ProtocolError:
            assert typed(ours) == typed(theirs), data
            agreed += 1
        elif theirs is not None:
            assert _documented_stricter(data), data
            stricter += 1
    assert agreed > 500 and refused > 500 and stricter < 30  # each one documented (above)


def _documented_stricter(data: list[Any]) -> bool:
    """The damage we refuse although imapclient reads it: a ``%`` or a control byte inside a
    line (imapclient glues them to atoms), or a literal after a line that does not end in its
    ``{n}`` standing alone."""
    texts = [r[0] if isinstance(r, tuple) else r for r in data]
    return any(re.search(rb"[%\x00-\x08\x0b\x0c\x0e-\x1f]", t) for t in texts) or any(
        isinstance(r, tuple) and re.search(rb"(^|[ (])\{[0-9]+\}$", r[0]) is None for r in data)


def test_random_bytes_give_values_or_protocol_error() -> None:
    """Lines made of IMAP's meaningful bytes at random, some with a literal: parsed, or
    ProtocolError; never another exception."""
    rng = random.Random(7)
    alphabet = b'()"\\[] {}0123NILUID BODYSTRUCTURE\r\n%\x01\xe0'
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(3000):
        data: list[Any] = []
        for _ in range(rng.randrange(1, 4)):
            text = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
            if rng.random() < 0.3:
                literal = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 5)))
                size = len(literal) + rng.choice([0, 0, 1, -1])
                data.append((text + b" {%d}" % size, literal))
            else:
                data.append(text)
        try:
            parse_fetch(data)
            outcomes["parsed"] += 1
        except ProtocolError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 1000
