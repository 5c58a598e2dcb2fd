"""pec_ingest.fetch_response on FETCH answers captured from a real Dovecot: the same values and
types as imapclient's parse_fetch_response, for every shape the mailbox asks for (and a few
more), and Mailbox.first_look / fetch_raw giving what imapclient's own fetch gives."""

from __future__ import annotations

import imaplib
from typing import Any

import pytest
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

from pec_ingest.fetch_response import parse_fetch
from pec_ingest.imap_fetch import uid_fetch
from pec_ingest.mailbox import FIRST_LOOK, HEADER_LOOK, FirstLook, Mailbox
from tests.dovecot import WHEN, DovecotServer, pec_envelope, pec_receipt, plain_mail
from tests.unit.test_fetch_response import typed

TRICKY_ATTACHMENT = (
    b'From: "Ente \\"Uno\\"" <ente@pec.example>\r\n'
    b"To: comune@pec.example\r\n"
    b"Subject: =?utf-8?q?Manifestazione_d=27interesse_=E2=80=93_citt=C3=A0?=\r\n"
    b"Message-ID: <tricky.1@pec.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="==b1=="; charset="utf-8"\r\n'
    b"\r\n"
    b"--==b1==\r\n"
    b"Content-Type: multipart/alternative; boundary=b2\r\n"
    b"\r\n"
    b"--b2\r\n"
    b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"Content-Language: it\r\n"
    b"\r\n"
    b"Si allega il modulo.=0D=0A\r\n"
    b"--b2\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Si allega</p>\r\n"
    b"--b2--\r\n"
    b"--==b1==\r\n"
    b'Content-Type: application/pdf; name="=?utf-8?q?Allegato_1_citt=C3=A0.pdf?="\r\n'
    b"Content-Disposition: attachment;\r\n"
    b' filename="modulo \\"firmato\\" a\\\\b.pdf"; size=12\r\n'
    b"Content-Description: il \"modulo\" compilato\r\n"
    b"Content-ID: <pdf@pec.example>\r\n"
    b"Content-Location: http://pec.example/a.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--==b1==\r\n"
    b'Content-Type: application/octet-stream; name="citt\xc3\xa0 8bit.bin"\r\n'
    b'Content-Disposition: attachment; filename="citt\xc3\xa0 8bit.bin"\r\n'
    b"\r\n"
    b"xyz\r\n"
    b"--==b1==\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b'Subject: interno "virgolette" \\ e barra\r\n'
    b"From: a@b.example\r\n"
    b"\r\n"
    b"corpo\r\n"
    b"--==b1==--\r\n"
)

BARE = b"\r\n"  # no header at all: NIL everywhere, an empty header-fields literal

ITEM_SETS: list[tuple[str, ...]] = [
    FIRST_LOOK,
    HEADER_LOOK,
    ("BODYSTRUCTURE",),
    ("BODY.PEEK[]",),
    ("BODY",),
    ("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE"),
    ("BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]<0.10>"),
]


def _raw(client: IMAPClient, uids: list[int], items: tuple[str, ...]) -> list[Any]:
    """The untagged FETCH data as imaplib hands it to imapclient's parser."""
    typ, data = client._imap.uid("FETCH", ",".join(map(str, uids)), f"({' '.join(items)})")
    assert typ == "OK"
    return list(data)


@pytest.fixture
def filled(dovecot: DovecotServer, imap_user: str) -> list[int]:
    messages = [pec_envelope(1), pec_envelope(2, attachment=None), pec_receipt(3),
                plain_mail(4)]
    uids = dovecot.append(imap_user, messages)
    uids += dovecot.append(imap_user, [TRICKY_ATTACHMENT, BARE], when=WHEN)  # +0200
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX")
        client.add_flags(uids[:2], [b"\\Flagged", b"$Etichetta"])
    return uids


def test_dovecot_answers_read_as_imapclient_reads_them(
        dovecot: DovecotServer, imap_user: str, filled: list[int]) -> None:
    seen: list[Any] = []
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        for items in ITEM_SETS:
            for uids in [filled, filled[-2:-1], filled[-1:], [filled[-1] + 100]]:
                data = _raw(client, uids, items)
                seen += data
                for normalise in (True, False):
                    ours = parse_fetch(list(data), normalise_times=normalise)
                    theirs = dict(parse_fetch_response(list(data), normalise_times=normalise))
                    assert typed(ours) == typed(theirs), (items, uids)
    # The captured answers do hold what the test is about:
    literals = [r for r in seen if isinstance(r, tuple)]
    texts = b" ".join(r[0] if isinstance(r, tuple) else r for r in seen if r is not None)
    # literals inside BODYSTRUCTURE (8-bit parameter values, an attached message's subject)
    assert any(r[0].startswith(b"5 (UID") and r[0].endswith(b'("name" {15}') for r in literals)
    assert any(r[1] == b'interno "virgolette" \\ e barra' for r in literals)
    assert b'\\"' in texts and b"\\\\" in texts  # escaped quotes and backslashes
    assert b"=?utf-8?q?" in texts and b"NIL" in texts and b"{2}" in texts
    assert b'"alternative"' in texts and b'"mixed"' in texts and b"+0200" in texts
    assert _raw_empty(dovecot, imap_user, filled[-1] + 100) == [None]


def _raw_empty(dovecot: DovecotServer, user: str, uid: int) -> list[Any]:
    with dovecot.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        return _raw(client, [uid], ("RFC822.SIZE",))


def test_mailbox_gives_what_imapclient_fetch_gives(
        dovecot: DovecotServer, imap_user: str, filled: list[int]) -> None:
    box = dovecot.section(imap_user)
    with Mailbox.open(box) as mailbox, dovecot.client(imap_user) as client:
        mailbox.examine("INBOX")
        client.select_folder("INBOX", readonly=True)
        wanted = [*filled, filled[-1] + 100]
        looks = mailbox.first_look(wanted)
        reference = client.fetch(wanted, list(FIRST_LOOK))
        assert sorted(looks) == filled
        for uid, data in reference.items():
            header = data[next(k for k in data if k.startswith(b"BODY[HEADER"))]
            assert looks[uid] == FirstLook(uid, data[b"RFC822.SIZE"], header,
                                           data[b"BODYSTRUCTURE"], looks[uid].internal_date)
            assert typed(looks[uid].structure) == typed(data[b"BODYSTRUCTURE"])
            assert looks[uid].internal_date is not None
        raw = mailbox.fetch_raw(wanted)
        assert raw == {u: d[b"BODY[]"] for u, d in client.fetch(filled, ["BODY.PEEK[]"]).items()}
        assert raw[filled[4]] == TRICKY_ATTACHMENT


def test_uid_fetch_reads_what_imaplib_reads(
        dovecot: DovecotServer, imap_user: str, filled: list[int]) -> None:
    """pec_ingest.imap_fetch's records are imaplib's, record for record (literals inside
    BODYSTRUCTURE, several literals in one response, empty header literals, no answer)."""
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        for items in ITEM_SETS:
            for uids in [filled, filled[-2:-1], filled[-1:], [filled[-1] + 100]]:
                ours = uid_fetch(client._imap, uids, items)
                assert ours == _raw(client, uids, items), (items, uids)
        assert uid_fetch(client._imap, [filled[-1] + 100], ("RFC822.SIZE",)) == [None]
        # the connection is in step afterwards: imaplib's next command works
        assert _raw(client, filled[:1], ("RFC822.SIZE",))


def test_uid_fetch_drops_other_untagged_responses(
        dovecot: DovecotServer, imap_user: str, filled: list[int]) -> None:
    """A message arriving while the folder is open makes the server announce it (EXISTS,
    RECENT) inside the next FETCH answer: read past, not kept, the answer still whole."""
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        expected = _raw(client, filled, FIRST_LOOK)
        before = {key: list(value) for key, value in client._imap.untagged_responses.items()}
        added = dovecot.append(imap_user, [plain_mail(9)])
        ours = uid_fetch(client._imap, filled, FIRST_LOOK)
        assert ours == expected
        assert {k: list(v) for k, v in client._imap.untagged_responses.items()} == before
        assert uid_fetch(client._imap, added, ("RFC822.SIZE",)) == [
            f"{len(filled) + 1} (UID {added[0]} RFC822.SIZE {len(plain_mail(9))})".encode()]


def test_uid_fetch_refusals(dovecot: DovecotServer, imap_user: str, filled: list[int]) -> None:
    """BAD (a command the server cannot read) is imaplib.IMAP4.error; the connection stays
    usable after it, as after imaplib's own."""
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            uid_fetch(client._imap, filled, ("NOT-AN-ITEM",))
        assert uid_fetch(client._imap, filled[:1], ("RFC822.SIZE",)) == _raw(
            client, filled[:1], ("RFC822.SIZE",))
        client.unselect_folder()
        with pytest.raises(imaplib.IMAP4.error):  # no folder selected: BAD or NO
            uid_fetch(client._imap, filled[:1], ("RFC822.SIZE",))
