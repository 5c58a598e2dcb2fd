"""The cheap first look: decide from headers, BODYSTRUCTURE and size whether a message is
worth downloading. Pure: values in, a verdict out; no I/O.

Downloaded in full:

* PEC receipts (``X-Ricevuta``) that refer (``X-Riferimento-Message-ID``) to one of our
  acknowledgements, whose Message-IDs all start with ``ack.``; receipts of the protocol
  office's own mail are skipped (a receipt without that header is downloaded, to be safe). A
  filter on the domain of our Message-IDs was not used: it would lose receipts if that domain
  ever changed.
* PEC envelopes (``X-Trasporto: posta-certificata`` or ``errore``) whose original message
  (the ``message/rfc822`` part, postacert.eml) carries at least one attachment, or whose
  structure does not show the original at all (then we cannot tell: download).

Skipped (and recorded, with the reason): anything larger than ``max_message_mb``, envelopes
whose original has no attachment (it cannot carry a form), and mail that is not PEC at all
(unless ``skip_non_pec = false``, in which case non-PEC mail with attachments is downloaded).
"""

from __future__ import annotations

import contextlib
import email.policy
import functools
from dataclasses import dataclass
from email.message import Message
from typing import Any

from parsers.mime import split_message
from pec_ingest.ack.policy import ACK_ID_PREFIX
from pec_ingest.mailbox import FirstLook
from pec_ingest.settings_imap import MailboxSection

ENVELOPES = ("posta-certificata", "errore")


@dataclass(frozen=True)
class Verdict:
    """``download`` or not; ``reason`` is a skip code (store.model_mailbox.SKIP_REASONS)."""

    uid: int
    size: int
    download: bool
    kind: str  # receipt | envelope | not-pec
    reason: str = ""
    detail: str = ""
    message_id: str | None = None
    subject: str | None = None
    sender: str | None = None


def needs_structure(look: FirstLook, box: MailboxSection) -> bool:
    """Whether :func:`judge`'s verdict on ``look`` depends on its BODYSTRUCTURE: only PEC
    envelopes (and non-PEC mail when ``skip_non_pec`` is off) within the size limit. Decided
    from the headers and the size alone, so the structure is fetched only when it counts."""
    if look.size > box.max_message_mb * 1024 * 1024:
        return False
    kind, trasporto = _classify(_headers(look.header))
    if kind == "envelope":
        return trasporto in ENVELOPES
    return kind == "not-pec" and not box.skip_non_pec


def judge(look: FirstLook, box: MailboxSection) -> Verdict:
    """The verdict on one message from its first look."""
    headers = _headers(look.header)
    kind, trasporto = _classify(headers)
    base: dict[str, Any] = {
        "uid": look.uid, "size": look.size, "kind": kind,
        "message_id": _value(headers, "Message-ID"), "subject": _value(headers, "Subject"),
        "sender": _value(headers, "From")}
    limit = box.max_message_mb * 1024 * 1024
    if look.size > limit:
        return Verdict(download=False, reason="too_big", detail=(
            f"{look.size / 1048576:.1f} MB, oltre il limite di {box.max_message_mb} MB "
            "(max_message_mb)"), **base)
    if kind == "receipt":
        referenced = (_value(headers, "X-Riferimento-Message-ID") or "").strip().lstrip("<")
        if referenced and not referenced.lower().startswith(ACK_ID_PREFIX):
            return Verdict(download=False, reason="other_receipt", detail=(
                f"ricevuta di un messaggio non inviato da pec-ingest ({referenced[:80]})"),
                **base)
        return Verdict(download=True, **base)
    if kind == "envelope":
        originals = list(_originals(look.structure))
        if trasporto in ENVELOPES and originals and not any(map(has_attachment, originals)):
            return Verdict(download=False, reason="no_attachments",
                           detail="messaggio PEC senza allegati nel messaggio originale", **base)
        return Verdict(download=True, **base)
    if box.skip_non_pec:
        return Verdict(download=False, reason="not_pec", detail=(
            "messaggio non PEC (né X-Trasporto né X-Ricevuta)"), **base)
    if look.structure is not None and not has_attachment(look.structure):
        return Verdict(download=False, reason="no_attachments",
                       detail="messaggio non PEC senza allegati", **base)
    return Verdict(download=True, **base)


def _classify(headers: Message) -> tuple[str, str]:
    """(receipt | envelope | not-pec, the lowercased X-Trasporto or "")."""
    ricevuta = _value(headers, "X-Ricevuta")
    trasporto = (_value(headers, "X-Trasporto") or "").lower()
    return "receipt" if ricevuta else "envelope" if trasporto else "not-pec", trasporto


@functools.lru_cache(maxsize=1024)
def _headers(raw: bytes) -> Message:
    """Parsed once per header block: :func:`needs_structure` and then :func:`judge` read the
    same batch (deterministic; the Message is only read, never changed). Read as the envelope
    reader reads a message's header (:func:`parsers.mime.split_message`: what
    ``BytesParser(policy=compat32)`` gives, built directly for plain fields, with a hostile
    field's length bounded), at half the cost of the stdlib's parser."""
    return split_message(raw).headers


def _value(headers: Message, name: str) -> str | None:
    """A header decoded (RFC 2047) and unfolded; None when absent; never raises."""
    raw = headers.get(name)
    if raw is None:
        return None
    text = str(raw)
    if "=?" in text:  # RFC 2047 encoded words (cheap test: decoding is the slow part)
        with contextlib.suppress(Exception):  # a malformed encoded word: keep the raw text
            text = str(email.policy.default.header_factory(name, text))
    return " ".join(text.split()) or None


def _is_multipart(part: Any) -> bool:
    return isinstance(part, tuple | list) and bool(part) and isinstance(part[0], list)


def _leaves(part: Any) -> list[Any]:
    """The non-multipart parts under ``part`` (not descending into attached messages)."""
    if _is_multipart(part):
        return [leaf for child in part[0] for leaf in _leaves(child)]
    return [part] if isinstance(part, tuple | list) and part else []


def _kind(leaf: Any) -> tuple[bytes, bytes]:
    def norm(v: Any) -> bytes:
        return v.lower() if isinstance(v, bytes) else b""
    return norm(leaf[0]), norm(leaf[1]) if len(leaf) > 1 else b""


def _originals(structure: Any) -> list[Any]:
    """The body structures of the messages attached to the envelope (postacert.eml)."""
    out = []
    for leaf in _leaves(structure):
        if _kind(leaf) == (b"message", b"rfc822") and len(leaf) > 8:
            out.append(leaf[8])
    return out


def has_attachment(structure: Any) -> bool:
    """Whether a message structure has a part other than its text body: a file, an attached
    message, a non-text part, or a text part with a file name or an attachment disposition."""
    for leaf in _leaves(structure):
        major, _minor = _kind(leaf)
        if major != b"text" or _named(leaf):
            return True
    return False


def _named(leaf: Any) -> bool:
    params = leaf[2] if len(leaf) > 2 and isinstance(leaf[2], tuple | list) else ()
    if any(isinstance(k, bytes) and k.lower() == b"name" for k in params[::2]):
        return True
    for extra in leaf[7:]:
        if (isinstance(extra, tuple | list) and len(extra) == 2 and isinstance(extra[0], bytes)
                and extra[0].lower() == b"attachment"):
            return True
    return False
