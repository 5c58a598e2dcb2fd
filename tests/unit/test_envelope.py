"""parse_envelope on messages built by the PEC provider simulator: every kind round-trips."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest

from parsers.envelope import KINDS, PecMessage, parse_envelope, walk_attachments
from parsers.limits import Limits
from pec_ingest.samples import pec

ROME_SUMMER = timezone(timedelta(hours=2))
WHEN = datetime(2025, 6, 3, 10, 15, 42, tzinfo=ROME_SUMMER)
SENDER = "Mario.Rossi@PEC.Associazione.example.it"
COMUNE = "protocollo@pec.comune.example.it"
IDENTIFICATIVO = "opec210312.20250603101542.12345.678.1.53@pec.simulato.example"
ORIGINAL_ID = "<a1b2c3.4567@pec.associazione.example.it>"
MODULO = b"0\x80" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n" + b"x" * 1000 + b"\n%%EOF\n"


def original_message(name_encoding: str = "plain", **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "to": [COMUNE],
        "subject": "Domanda Allegato 1 – Piano di Zona",
        "date": WHEN,
        "message_id": ORIGINAL_ID,
        "attachments": [
            ("modulo firmato è.pdf.p7m", MODULO, "application/pkcs7-mime"),
            ("documento identità.pdf", PDF, "application/pdf"),
        ],
        "name_encoding": name_encoding,
    }
    arguments.update(overrides)
    return pec.build_original(**arguments)  # type: ignore[arg-type]


def envelope(original: bytes | None = None, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "mittente": SENDER,
        "destinatari": [COMUNE],
        "identificativo": IDENTIFICATIVO,
        "data": WHEN,
    }
    arguments.update(overrides)
    return pec.build_envelope(original or original_message(), **arguments)  # type: ignore[arg-type]


def receipt(kind: str, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "msgid": "<20250603.ack.42@comune.example.it>",
        "mittente": COMUNE,
        "destinatari": ["domande@pec.associazione.example.it"],
        "identificativo": IDENTIFICATIVO,
        "data": WHEN,
        "oggetto": "Ricevuta domanda n. 42",
    }
    arguments.update(overrides)
    return pec.build_receipt(kind, **arguments)  # type: ignore[arg-type]


def test_transport_envelope_round_trip() -> None:
    message = parse_envelope(envelope())

    assert message.kind == "posta-certificata"
    assert message.warnings == ()
    assert message.sender == SENDER.lower()
    assert message.riferimento_message_id == ORIGINAL_ID
    assert message.message_id == f"<{IDENTIFICATIVO}>"
    assert message.subject == "POSTA CERTIFICATA: Domanda Allegato 1 – Piano di Zona"
    assert message.original_subject == "Domanda Allegato 1 – Piano di Zona"
    assert message.original_from == SENDER
    assert message.signature.present and message.signature.valid is True
    assert message.signature.signer == pec.default_provider_key().common_name
    daticert = message.daticert
    assert daticert is not None
    assert daticert.tipo == "posta-certificata" and daticert.errore == "nessuno"
    assert daticert.identificativo == IDENTIFICATIVO
    assert daticert.msgid == ORIGINAL_ID
    assert daticert.data == WHEN and daticert.data.utcoffset() == timedelta(hours=2)
    assert [(r.address, r.tipo) for r in daticert.destinatari] == [(COMUNE, "certificato")]


def test_original_is_carried_byte_for_byte_with_provider_message_id() -> None:
    original = original_message()
    message = parse_envelope(envelope(original))

    assert message.original is not None
    assert f"Message-ID: <{IDENTIFICATIVO}>".encode() in message.original
    assert f"X-Riferimento-Message-ID: {ORIGINAL_ID}".encode() in message.original
    # Apart from the rewritten Message-ID header, the bytes are the sender's own.
    body_start = original.index(b"\r\n\r\n")
    assert message.original.endswith(original[body_start:])
    assert message.original in envelope(original)


@pytest.mark.parametrize("name_encoding", ["plain", "rfc2047", "rfc2231"])
def test_attachments_of_the_original_with_decoded_names(name_encoding: str) -> None:
    message = parse_envelope(envelope(original_message(name_encoding)))

    assert [a.filename for a in message.attachments] == [
        "modulo firmato è.pdf.p7m",
        "documento identità.pdf",
    ]
    first, second = message.attachments
    assert first.data == MODULO and first.size == len(MODULO)
    assert first.sha256 == hashlib.sha256(MODULO).hexdigest()
    assert first.content_type == "application/pkcs7-mime"
    assert first.path == "postacert.eml/modulo firmato è.pdf.p7m"
    assert second.data == PDF and second.content_type == "application/pdf"


def test_daticert_and_notice_are_not_attachments() -> None:
    message = parse_envelope(envelope(original_message(attachments=[])))

    assert message.attachments == ()
    assert message.kind == "posta-certificata"


@pytest.mark.parametrize("kind", pec.RECEIPT_KINDS)
def test_every_receipt_kind_round_trips(kind: str) -> None:
    message = parse_envelope(receipt(kind))

    assert message.kind == kind
    assert message.warnings == ()
    assert message.signature.valid is True
    assert message.riferimento_message_id == "<20250603.ack.42@comune.example.it>"
    assert message.daticert is not None and message.daticert.tipo == kind
    assert message.daticert.msgid == "<20250603.ack.42@comune.example.it>"
    assert message.sender == COMUNE
    assert message.original is None and message.attachments == ()


def test_error_receipt_carries_error_details() -> None:
    message = parse_envelope(
        receipt("errore-consegna", errore="no-dest", errore_esteso="5.1.1 - indirizzo non valido")
    )

    assert message.daticert is not None
    assert message.daticert.errore == "no-dest"
    assert message.daticert.errore_esteso == "5.1.1 - indirizzo non valido"
    assert message.daticert.consegna == "domande@pec.associazione.example.it"


def test_full_delivery_receipt_carries_the_original_and_its_attachments() -> None:
    original = original_message()
    message = parse_envelope(receipt("avvenuta-consegna", original=original))

    assert message.kind == "avvenuta-consegna"
    assert message.original == original
    assert message.daticert is not None and message.daticert.ricevuta == "completa"
    assert [a.size for a in message.attachments] == [len(MODULO), len(PDF)]


def test_anomaly_envelope_has_no_daticert_and_no_warning_about_it() -> None:
    raw = pec.build_anomaly(
        original_message(), mittente="someone@example.org", destinatari=[COMUNE],
        identificativo=IDENTIFICATIVO, data=WHEN,
    )  # fmt: skip
    message = parse_envelope(raw)

    assert message.kind == "anomalia"
    assert message.daticert is None
    assert message.sender == "someone@example.org"
    assert message.signature.valid is True
    assert message.warnings == ()
    assert len(message.attachments) == 2


def test_rsa_provider_key_and_larger_digest() -> None:
    signer = pec.ProviderKey.generate(gestore="Altro Gestore S.p.A.", algorithm="rsa")
    message = parse_envelope(envelope(signer=signer, micalg="sha-512"))

    assert message.signature.valid is True
    assert message.signature.signer == "Posta Certificata Altro Gestore S.p.A."


def test_ber_indefinite_length_signature_verifies() -> None:
    raw = envelope(ber=True)
    p7s = re.search(rb'filename="smime.p7s"\r\n\r\n([A-Za-z0-9+/=\r\n]+)', raw)
    assert p7s is not None and b"MIAGCSqGSIb3DQEHAqCA" in p7s.group(1).replace(b"\r\n", b"")

    assert parse_envelope(raw).signature.valid is True


def test_signature_survives_lf_storage() -> None:
    """Mail stores often keep LF line ends; S/MIME canonical form is CRLF."""
    message = parse_envelope(envelope().replace(b"\r\n", b"\n"))

    assert message.signature.valid is True
    assert message.kind == "posta-certificata"


def test_one_flipped_byte_in_the_signed_body_breaks_the_signature() -> None:
    raw = envelope()
    assert parse_envelope(raw).signature.valid is True
    position = raw.index(b"documento identit") + 3
    tampered = raw[:position] + b"X" + raw[position + 1 :]

    message = parse_envelope(tampered)

    assert message.signature.present is True
    assert message.signature.valid is False
    assert message.signature.reason is not None and "alterato" in message.signature.reason
    assert any("firma del gestore non valida" in w for w in message.warnings)
    assert message.kind == "posta-certificata"


def test_header_and_daticert_disagreement_is_a_warning() -> None:
    raw = receipt("accettazione").replace(
        b"X-Ricevuta: accettazione", b"X-Ricevuta: presa-in-carico"
    )

    message = parse_envelope(raw)

    assert message.kind == "presa-in-carico"
    assert any("daticert.xml indica «accettazione»" in w for w in message.warnings)


def test_header_names_are_case_insensitive() -> None:
    raw = receipt("avvenuta-consegna").replace(b"X-Ricevuta:", b"x-RICEVUTA:")

    assert parse_envelope(raw).kind == "avvenuta-consegna"


def test_missing_headers_fall_back_to_daticert_with_a_warning() -> None:
    raw = receipt("errore-consegna").replace(b"X-Ricevuta: errore-consegna\r\n", b"")

    message = parse_envelope(raw)

    assert message.kind == "errore-consegna"
    assert any("tipo ricavato da daticert.xml" in w for w in message.warnings)


def test_subject_is_only_a_last_resort() -> None:
    raw = envelope().replace(b"X-Trasporto: posta-certificata\r\n", b"")
    raw = re.sub(rb'Content-Type: application/xml; name="daticert.xml"', b"Content-Type: x/y", raw)
    raw = raw.replace(b'filename="daticert.xml"', b'filename="altro.xml"')

    message = parse_envelope(raw)

    assert message.kind == "posta-certificata"
    assert any("ricavato dall'oggetto" in w for w in message.warnings)


def test_subject_alone_never_makes_an_ordinary_mail_pec() -> None:
    raw = original_message(subject="ACCETTAZIONE: domanda")

    message = parse_envelope(raw)

    assert message.kind == "not-pec"
    assert message.sender is None
    assert [a.filename for a in message.attachments] == [
        "modulo firmato è.pdf.p7m",
        "documento identità.pdf",
    ]
    assert message.attachments[0].path == "modulo firmato è.pdf.p7m"


def test_envelope_rewrapped_by_a_list_server_is_found_with_a_warning() -> None:
    inner = envelope()
    wrapped = pec.build_forward(
        inner, sender="lista@comune.example.it", to=COMUNE, subject="[lista] inoltro", date=WHEN
    )

    message = parse_envelope(wrapped)

    assert message.kind == "posta-certificata"
    assert message.signature.valid is True
    assert message.daticert is not None and message.daticert.identificativo == IDENTIFICATIVO
    assert message.warnings[0].startswith("busta PEC contenuta in un altro messaggio")
    assert message.attachments[0].filename == "modulo firmato è.pdf.p7m"


def test_sender_from_reply_to_or_per_conto_di_when_daticert_is_missing() -> None:
    raw = envelope()
    without_daticert = re.sub(
        rb"--(-+=_[0-9a-f]+)\r\nContent-Type: application/xml.*?(?=--\1)", b"", raw, flags=re.S
    )
    assert b"daticert.xml" not in without_daticert
    message = parse_envelope(without_daticert)
    assert message.sender == SENDER.lower()
    assert "daticert.xml assente" in message.warnings

    no_reply_to = without_daticert.replace(f"Reply-To: {SENDER}\r\n".encode(), b"")
    assert parse_envelope(no_reply_to).sender == SENDER.lower()


def test_auto_submitted_headers_are_reported() -> None:
    original = original_message(auto_submitted="auto-replied")
    raw = envelope(original).replace(
        b"X-TipoRicevuta", b"Auto-Submitted: auto-generated\r\nX-TipoRicevuta"
    )

    message = parse_envelope(raw)

    assert message.auto_submitted == "auto-generated"
    assert message.original_auto_submitted == "auto-replied"


def test_to_json_shape() -> None:
    data = parse_envelope(envelope()).to_json()

    assert set(data) == {
        "kind", "daticert", "sender", "riferimento_message_id", "subject", "message_id",
        "attachments", "signature", "warnings",
    }  # fmt: skip
    assert data["signature"] == {"present": True, "valid": True}
    assert data["attachments"][0] == {
        "filename": "modulo firmato è.pdf.p7m",
        "content_type": "application/pkcs7-mime",
        "size": len(MODULO),
        "sha256": hashlib.sha256(MODULO).hexdigest(),
    }
    assert data["daticert"]["data"] == "2025-06-03T10:15:42+02:00"
    assert data["daticert"]["destinatari"] == [{"address": COMUNE, "tipo": "certificato"}]


def test_kinds_constant_lists_every_kind() -> None:
    assert set(KINDS) == {*pec.SUBJECT_PREFIX, "not-pec"}


def test_walk_attachments_descends_into_nested_multiparts_and_messages() -> None:
    inner = original_message(
        name_encoding="rfc2047",
        attachments=[("interno.docx", b"PK\x03\x04", "application/octet-stream")],
    )
    outer = pec.build_forward(inner, sender="a@example.org", to=COMUNE, subject="fwd", date=WHEN)

    attachments, warnings = walk_attachments(outer, Limits())

    assert warnings == ()
    assert [(a.path, a.data) for a in attachments] == [("inoltro.eml/interno.docx", b"PK\x03\x04")]


def test_result_is_frozen() -> None:
    message = parse_envelope(envelope())
    assert isinstance(message, PecMessage)
    with pytest.raises(AttributeError):
        message.kind = "not-pec"  # type: ignore[misc]
