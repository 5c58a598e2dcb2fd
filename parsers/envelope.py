"""PEC envelopes and receipts: bytes in, a :class:`PecMessage` out, never an exception.

A PEC message is classified by its top-level headers (``X-Trasporto``, ``X-Ricevuta``), cross-
checked against ``daticert.xml``; the subject is used only as a last resort, with a warning.
The provider's S/MIME signature is checked over the exact bytes of the signed part. The
original message (``postacert.eml``) is kept byte for byte and its attachments are listed.
Everything unexpected becomes a warning for the staff who read the result.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from typing import Any

from parsers.daticert import KNOWN_TIPI, Daticert, Recipient, parse_daticert
from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.mime import (
    Attachment,
    MimePart,
    WalkResult,
    decode_body,
    header,
    split_message,
    split_multipart,
    walk,
    walk_attachments,
    walk_part,
)
from parsers.smime import ABSENT, SignatureCheck, canonicalize, verify_detached
from parsers.sniff import detect_format

__all__ = [
    "KINDS",
    "Attachment",
    "Daticert",
    "PecMessage",
    "Recipient",
    "SignatureCheck",
    "parse_envelope",
    "walk_attachments",
]

RECEIPT_KINDS = frozenset(KNOWN_TIPI - {"posta-certificata"})
KINDS = (
    "posta-certificata", "anomalia", "accettazione", "non-accettazione", "presa-in-carico",
    "avvenuta-consegna", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus",
    "not-pec",
)  # fmt: skip
# Last resort only (headers missing); longest prefixes first.
_SUBJECT_PREFIXES = (
    ("AVVISO DI NON ACCETTAZIONE", "non-accettazione"),
    ("AVVISO DI MANCATA CONSEGNA:", "errore-consegna"),
    ("AVVISO DI MANCATA CONSEGNA", "preavviso-errore-consegna"),
    ("POSTA CERTIFICATA:", "posta-certificata"),
    ("ANOMALIA MESSAGGIO:", "anomalia"),
    ("ACCETTAZIONE:", "accettazione"),
    ("PRESA IN CARICO:", "presa-in-carico"),
    ("CONSEGNA:", "avvenuta-consegna"),
    ("PROBLEMA DI SICUREZZA:", "rilevazione-virus"),
)
_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
_MAIL_HEADERS = ("from", "to", "subject", "date", "message-id", "received", "content-type",
                 "mime-version", "return-path", "delivered-to")  # fmt: skip
_PER_CONTO_DI = re.compile(r"per\s+conto\s+di\s*:\s*<?([^\s<>\"']+@[^\s<>\"']+)", re.IGNORECASE)
_MAX_NESTED_ENVELOPES = 3
_MAX_ENVELOPE_PARTS = 16  # notice, daticert.xml, postacert.eml; a few more are tolerated


@dataclass(frozen=True)
class PecMessage:
    kind: str
    daticert: Daticert | None
    sender: str | None
    riferimento_message_id: str | None
    subject: str | None
    message_id: str | None
    original: bytes | None
    original_subject: str | None
    original_from: str | None
    original_auto_submitted: str | None
    auto_submitted: str | None
    attachments: tuple[Attachment, ...]
    signature: SignatureCheck
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "daticert": self.daticert.to_json() if self.daticert else None,
            "sender": self.sender,
            "riferimento_message_id": self.riferimento_message_id,
            "subject": self.subject,
            "message_id": self.message_id,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size,
                 "sha256": a.sha256}
                for a in self.attachments
            ],
            "signature": self.signature.to_json(),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Layout:
    """Where the envelope's pieces are: signed bytes, signature part, daticert, postacert."""

    signed: bool = False
    signed_content: bytes | None = None
    signature: MimePart | None = None
    daticert: bytes | None = None
    postacert: bytes | None = None
    warnings: tuple[str, ...] = ()


def parse_envelope(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> PecMessage:
    """Read a message as it sits in the mailbox. Never raises on malformed input."""
    return _parse(bytes(raw), limits, 0)


def _parse(raw: bytes, limits: Limits, nesting: int) -> PecMessage:
    if not raw.strip():
        return _empty_message("messaggio vuoto")
    root = split_message(raw)
    if len(raw) > limits.max_input_bytes:
        return _oversized(root, len(raw), limits)
    layout = _locate(root)
    daticert, daticert_warnings = (
        parse_daticert(layout.daticert) if layout.daticert is not None else (None, ())
    )
    kind, kind_warnings = _classify(root.headers, daticert, layout)
    walked: WalkResult | None
    postacert: MimePart | None = None  # split once: walked and read for its headers
    if kind == "not-pec":
        walked = walk(raw, limits)
        if nesting < _MAX_NESTED_ENVELOPES:
            nested = _nested_envelope(walked, limits, nesting)
            if nested is not None:
                return nested
        daticert, daticert_warnings = None, ()
    elif layout.postacert:
        postacert = split_message(layout.postacert)
        walked = walk_part(postacert, limits, "postacert.eml/")
    else:
        walked = None
    warnings = [*layout.warnings, *kind_warnings, *daticert_warnings]
    warnings.extend(_structure_warnings(root, kind, layout))
    signature = _check_signature(layout)
    if signature.valid is False:
        warnings.append(f"firma del gestore non valida: {signature.reason}")
    if walked is not None:
        warnings.extend(walked.warnings)
    return _assemble(root, kind, daticert, layout, signature, walked, warnings, postacert)


def _assemble(
    root: MimePart,
    kind: str,
    daticert: Daticert | None,
    layout: _Layout,
    signature: SignatureCheck,
    walked: WalkResult | None,
    warnings: list[str],
    postacert: MimePart | None = None,
) -> PecMessage:
    headers = root.headers
    original = layout.postacert if kind != "not-pec" else None
    if original is not None and postacert is None:
        postacert = split_message(original)
    inner = postacert.headers if original is not None and postacert is not None else None
    riferimento = header(headers, "X-Riferimento-Message-ID") or (
        daticert.msgid if daticert else None
    )
    return PecMessage(
        kind=kind,
        daticert=daticert,
        sender=_certified_sender(headers, daticert) if kind != "not-pec" else None,
        riferimento_message_id=riferimento if kind != "not-pec" else None,
        subject=header(headers, "Subject"),
        message_id=header(headers, "Message-ID"),
        original=original,
        original_subject=header(inner, "Subject") if inner is not None else None,
        original_from=header(inner, "From") if inner is not None else None,
        original_auto_submitted=header(inner, "Auto-Submitted") if inner is not None else None,
        auto_submitted=header(headers, "Auto-Submitted"),
        attachments=walked.attachments if walked is not None else (),
        signature=signature,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _empty_message(warning: str) -> PecMessage:
    return PecMessage(
        kind="not-pec", daticert=None, sender=None, riferimento_message_id=None, subject=None,
        message_id=None, original=None, original_subject=None, original_from=None,
        original_auto_submitted=None, auto_submitted=None, attachments=(), signature=ABSENT,
        warnings=(warning,),
    )  # fmt: skip


def _oversized(root: MimePart, size: int, limits: Limits) -> PecMessage:
    kind, warnings = _kind_from_headers(root.headers)
    signed = root.ctype == "multipart/signed"
    reason = "non verificata: messaggio oltre il limite di dimensione"
    warnings.insert(
        0,
        f"messaggio di {size} byte oltre il limite di {limits.max_input_bytes}: "
        "contenuto non analizzato",
    )
    return dataclasses.replace(
        _empty_message(""),
        warnings=tuple(warnings),
        kind=kind or "not-pec",
        subject=header(root.headers, "Subject"),
        message_id=header(root.headers, "Message-ID"),
        sender=_certified_sender(root.headers, None) if kind else None,
        riferimento_message_id=header(root.headers, "X-Riferimento-Message-ID") if kind else None,
        auto_submitted=header(root.headers, "Auto-Submitted"),
        signature=SignatureCheck(True, False, reason, None) if signed else ABSENT,
    )


def _locate(root: MimePart) -> _Layout:
    """Find the signed part, the signature, daticert.xml and postacert.eml."""
    if root.ctype != "multipart/signed":
        layout = _Layout(warnings=root.warnings)
        if _kind_from_headers(root.headers)[0] is None:
            return layout  # an ordinary message: its parts are walked as attachments
        return _find_envelope_parts(root, layout)
    boundary = root.boundary
    if not boundary:
        return _Layout(signed=True, warnings=("messaggio firmato senza boundary MIME",))
    parts, closed = split_multipart(root.body, boundary, 2)
    warnings = root.warnings
    if not closed:
        warnings += ("messaggio firmato troncato: delimitatore finale assente",)
    if not parts:
        return _Layout(signed=True, warnings=(*warnings, "messaggio firmato senza contenuto"))
    layout = _Layout(
        signed=True,
        signed_content=parts[0],
        signature=split_message(parts[1]) if len(parts) > 1 else None,
        warnings=warnings,
    )
    return _find_envelope_parts(split_message(parts[0]), layout)


def _find_envelope_parts(content: MimePart, layout: _Layout) -> _Layout:
    if not content.boundary:
        return layout
    children, closed = split_multipart(content.body, content.boundary, _MAX_ENVELOPE_PARTS)
    warnings = list(layout.warnings)
    if len(children) >= _MAX_ENVELOPE_PARTS:
        warnings.append(f"busta con troppe parti: lette solo le prime {_MAX_ENVELOPE_PARTS}")
    elif not closed:
        warnings.append("busta troncata: delimitatore MIME finale assente")
    daticert = postacert = None
    for raw_child in children:
        child = split_message(raw_child)
        name = (child.filename or "").lower()
        ctype = child.ctype
        if name == "daticert.xml" and daticert is None:
            daticert, decode_warnings = decode_body(child)
            warnings.extend(decode_warnings)
        elif (ctype == "message/rfc822" or name == "postacert.eml") and (
            postacert is None or name == "postacert.eml"
        ):
            postacert, decode_warnings = decode_body(child)
            warnings.extend(decode_warnings)
    return dataclasses.replace(
        layout, daticert=daticert, postacert=postacert, warnings=tuple(warnings)
    )


def _kind_from_headers(headers: Message) -> tuple[str | None, list[str]]:
    warnings: list[str] = []
    ricevuta = (header(headers, "X-Ricevuta") or "").lower()
    trasporto = (header(headers, "X-Trasporto") or "").lower()
    if ricevuta:
        if ricevuta in RECEIPT_KINDS:
            return ricevuta, warnings
        warnings.append(f"valore X-Ricevuta sconosciuto ({ricevuta[:40]})")
    if trasporto == "posta-certificata":
        return "posta-certificata", warnings
    if trasporto == "errore":
        return "anomalia", warnings
    if trasporto:
        warnings.append(f"valore X-Trasporto sconosciuto ({trasporto[:40]})")
    return None, warnings


def _classify(
    headers: Message, daticert: Daticert | None, layout: _Layout
) -> tuple[str, list[str]]:
    kind, warnings = _kind_from_headers(headers)
    if kind is not None:
        if daticert is not None and daticert.tipo and daticert.tipo != kind:
            warnings.append(
                f"daticert.xml indica «{daticert.tipo[:40]}» ma l'intestazione indica «{kind}»"
            )
        return kind, warnings
    if not layout.signed or (layout.daticert is None and layout.postacert is None):
        return "not-pec", warnings
    if daticert is not None and daticert.tipo in KNOWN_TIPI:
        warnings.append("intestazioni PEC assenti: tipo ricavato da daticert.xml")
        return str(daticert.tipo), warnings
    by_subject = _kind_from_subject(header(headers, "Subject"))
    if by_subject is not None:
        warnings.append("intestazioni PEC e daticert.xml assenti: tipo ricavato dall'oggetto")
        return by_subject, warnings
    warnings.append("messaggio firmato con parti PEC ma di tipo non riconoscibile")
    return "not-pec", warnings


def _kind_from_subject(subject: str | None) -> str | None:
    text = (subject or "").strip().upper()
    for prefix, kind in _SUBJECT_PREFIXES:
        if text.startswith(prefix):
            return kind
    return None


def _structure_warnings(root: MimePart, kind: str, layout: _Layout) -> list[str]:
    warnings: list[str] = []
    if kind == "not-pec":
        keys = {key.lower() for key in root.headers}
        if not keys.intersection(_MAIL_HEADERS):
            warnings.append("il contenuto non sembra un messaggio di posta")
        return warnings
    if kind != "anomalia" and layout.daticert is None:
        warnings.append("daticert.xml assente")
    if kind in ("posta-certificata", "anomalia") and layout.postacert is None:
        warnings.append("postacert.eml (messaggio originale) assente")
    if not layout.signed:
        warnings.append("messaggio PEC senza firma del gestore")
    return warnings


def _check_signature(layout: _Layout) -> SignatureCheck:
    if not layout.signed:
        return ABSENT
    if layout.signed_content is None:
        return SignatureCheck(True, False, "struttura firmata illeggibile", None)
    if layout.signature is None:
        return SignatureCheck(True, False, "parte di firma (smime.p7s) assente", None)
    ctype = layout.signature.ctype
    if ctype not in _SIGNATURE_TYPES:
        return SignatureCheck(True, False, f"tipo di firma non supportato ({ctype})", None)
    der, _ = decode_body(layout.signature)
    return verify_detached(canonicalize(layout.signed_content), der)


def _certified_sender(headers: Message, daticert: Daticert | None) -> str | None:
    if daticert is not None and daticert.mittente:
        return daticert.mittente.strip().lower()
    _, reply_to = parseaddr(header(headers, "Reply-To") or "")
    if "@" in reply_to:
        return reply_to.strip().lower()
    match = _PER_CONTO_DI.search(header(headers, "From") or "")
    return match.group(1).lower() if match else None


def _nested_envelope(walked: WalkResult, limits: Limits, nesting: int) -> PecMessage | None:
    """A PEC envelope carried inside another message: forwarded as ``message/rfc822``,
    re-wrapped by a list server, or attached as an ``.eml`` file by a mail client or a
    protocol system. Kind, daticert and original are the inner envelope's, with a warning."""
    for path, raw in _embedded_messages(walked):
        kind, _ = _kind_from_headers(split_message(raw).headers)
        if kind is None:
            continue
        inner = _parse(raw, limits, nesting + 1)
        warning = f"busta PEC contenuta in un altro messaggio ({path}): letta quella"
        return dataclasses.replace(inner, warnings=(warning, *inner.warnings))
    return None


def _embedded_messages(walked: WalkResult) -> list[tuple[str, bytes]]:
    """Embedded ``message/rfc822`` parts, then attachments that are mail files (``.eml``,
    or bytes that start like a message, as Outlook attaches a forwarded mail)."""
    found = [(embedded.path, embedded.raw) for embedded in walked.messages]
    for attachment in walked.attachments:
        name = (attachment.filename or "").lower()
        if name.endswith(".eml") or detect_format(attachment.data[:4096]) == "eml":
            found.append((attachment.path, attachment.data))
    return found
