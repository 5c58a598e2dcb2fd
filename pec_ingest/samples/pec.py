"""A small PEC provider simulator: byte-exact envelopes and receipts, really signed.

Messages are laid out the way Italian PEC providers write them (see ``docs/pec-format.md``):
``multipart/signed`` over a ``multipart/mixed`` holding the human-readable notice, ``daticert.xml``
and, for envelopes and full delivery receipts, the original message as ``postacert.eml``. The
``smime.p7s`` is a real CMS signature made with a throwaway provider key (:class:`ProviderKey`).
All line breaks are CRLF, as on the wire. Everything here is invented; nothing is sent.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import quopri
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header, decode_header, make_header
from email.utils import format_datetime
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

DEFAULT_GESTORE = "Gestore PEC Simulato S.p.A."
DEFAULT_DOMAIN = "pec.simulato.example"
SUBJECT_PREFIX = {
    "posta-certificata": "POSTA CERTIFICATA: ",
    "anomalia": "ANOMALIA MESSAGGIO: ",
    "accettazione": "ACCETTAZIONE: ",
    "non-accettazione": "AVVISO DI NON ACCETTAZIONE: ",
    "presa-in-carico": "PRESA IN CARICO: ",
    "avvenuta-consegna": "CONSEGNA: ",
    "errore-consegna": "AVVISO DI MANCATA CONSEGNA: ",
    "preavviso-errore-consegna": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
    "rilevazione-virus": "PROBLEMA DI SICUREZZA: ",
}
RECEIPT_KINDS = tuple(k for k in SUBJECT_PREFIX if k not in ("posta-certificata", "anomalia"))
_ERROR_KINDS = ("non-accettazione", "errore-consegna", "preavviso-errore-consegna",
                "rilevazione-virus")  # fmt: skip
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha-256": hashes.SHA256, "sha-384": hashes.SHA384, "sha-512": hashes.SHA512,
}  # fmt: skip
_Q_SAFE = re.compile(rb"[A-Za-z0-9!*+\-/.]")


@dataclass(frozen=True)
class ProviderKey:
    """A provider's signing key and self-signed certificate ("Posta Certificata <gestore>")."""

    gestore: str
    domain: str
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)

    @classmethod
    def generate(
        cls, gestore: str = DEFAULT_GESTORE, domain: str = DEFAULT_DOMAIN, algorithm: str = "ec"
    ) -> ProviderKey:
        """A new key: ``ec`` (P-256, fast) or ``rsa`` (2048 bits)."""
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if algorithm == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, gestore),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Posta Certificata {gestore}"),
        ])  # fmt: skip
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
            .add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(f"posta-certificata@{domain}")]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(gestore=gestore, domain=domain, private_key=key, certificate=certificate)

    @property
    def common_name(self) -> str:
        return f"Posta Certificata {self.gestore}"

    def sign(self, content: bytes, micalg: str = "sha-256", ber: bool = False) -> bytes:
        """Detached CMS signature (DER, or BER with indefinite lengths) over ``content``."""
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
        der = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.certificate, self.private_key, _HASHES[micalg.lower()]())
            .sign(serialization.Encoding.DER, options)
        )
        return to_indefinite_ber(der) if ber else der


@functools.cache
def default_provider_key() -> ProviderKey:
    """One throwaway provider key per process, for tests and the demo."""
    return ProviderKey.generate()


def to_indefinite_ber(der: bytes, max_depth: int = 4) -> bytes:
    """Re-encode constructed DER elements with indefinite lengths, down to ``max_depth``
    levels (the CMS structure, as BER-writing providers do; certificates and signed
    attributes stay DER below the default depth)."""
    out, _ = _indefinite(der, 0, 0, max_depth)
    return out


def _indefinite(data: bytes, pos: int, depth: int, max_depth: int) -> tuple[bytes, int]:
    tag = data[pos : pos + 1]
    lead, cursor = data[pos + 1], pos + 2
    length = lead
    if lead & 0x80:
        count = lead & 0x7F
        length = int.from_bytes(data[cursor : cursor + count], "big")
        cursor += count
    end = cursor + length
    if not tag[0] & 0x20 or depth >= max_depth:
        return data[pos:end], end
    children = []
    while cursor < end:
        child, cursor = _indefinite(data, cursor, depth + 1, max_depth)
        children.append(child)
    return tag + b"\x80" + b"".join(children) + b"\x00\x00", end


def build_original(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    date: datetime,
    message_id: str,
    body: str = "Buongiorno,\nin allegato la domanda.\nCordiali saluti\n",
    attachments: Iterable[tuple[str, bytes, str]] = (),
    name_encoding: str = "plain",
    auto_submitted: str | None = None,
) -> bytes:
    """An ordinary e-mail (CRLF). ``attachments``: (file name, bytes, content type).
    ``name_encoding``: ``plain``, ``rfc2047`` (``=?utf-8?Q?...?=``) or ``rfc2231``."""
    head = [
        f"Date: {format_datetime(date)}",
        f"From: {sender}",
        f"To: {', '.join(to)}",
        f"Subject: {_encode_header(subject)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if auto_submitted:
        head.append(f"Auto-Submitted: {auto_submitted}")
    text = _text_part(body)
    files = list(attachments)
    if not files:
        return _crlf("\n".join(head) + "\n") + text
    boundary = "===============" + _token(message_id, 19) + "=="
    parts = [text] + [_file_part(name, data, ctype, name_encoding) for name, data, ctype in files]
    head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    return _crlf("\n".join(head) + "\n\n") + _join_parts(parts, boundary)


def build_envelope(
    original: bytes,
    *,
    mittente: str,
    destinatari: Sequence[str],
    identificativo: str,
    data: datetime,
    gestore: str = DEFAULT_GESTORE,
    signer: ProviderKey | None = None,
    micalg: str = "sha-256",
    ber: bool = False,
    daticert_mittente: str | None = None,
) -> bytes:
    """A transport envelope (``X-Trasporto: posta-certificata``) carrying ``original``;
    ``daticert_mittente`` puts another sender in daticert than in the envelope's headers."""
    envelope = _Transport(original, mittente, destinatari, identificativo, data,
                          signer or default_provider_key())  # fmt: skip
    daticert = build_daticert(
        "posta-certificata", mittente=daticert_mittente or mittente, destinatari=destinatari,
        oggetto=envelope.subject, gestore=gestore, data=data, identificativo=identificativo,
        msgid=envelope.msgid, ricevuta="completa",
    )  # fmt: skip
    return envelope.sign("posta-certificata", [_xml_part(daticert)], micalg, ber)


def build_anomaly(
    original: bytes,
    *,
    mittente: str,
    destinatari: Sequence[str],
    identificativo: str,
    data: datetime,
    signer: ProviderKey | None = None,
) -> bytes:
    """An anomaly envelope (``X-Trasporto: errore``): ordinary mail into a PEC box."""
    envelope = _Transport(original, mittente, destinatari, identificativo, data,
                          signer or default_provider_key())  # fmt: skip
    return envelope.sign("errore", [], "sha-256", False)


class _Transport:
    """What a transport or anomaly envelope is made of."""

    def __init__(self, original: bytes, mittente: str, destinatari: Sequence[str],
                 identificativo: str, data: datetime, signer: ProviderKey) -> None:  # fmt: skip
        self.postacert, self.msgid, self.subject = _rewrite_original(original, identificativo)
        self.mittente, self.destinatari, self.signer = mittente, destinatari, signer
        self.identificativo, self.data = identificativo, data

    def sign(self, trasporto: str, extra: list[bytes], micalg: str, ber: bool) -> bytes:
        kind = "posta-certificata" if trasporto == "posta-certificata" else "anomalia"
        headers = [
            f"Date: {format_datetime(self.data)}",
            f"X-Trasporto: {trasporto}",
            f"X-Riferimento-Message-ID: {self.msgid}",
            f"Reply-To: {self.mittente}",
            f"To: {', '.join(self.destinatari)}",
            f'From: "Per conto di: {self.mittente}" <posta-certificata@{self.signer.domain}>',
            f"Subject: {_encode_header(SUBJECT_PREFIX[kind] + self.subject)}",
        ]
        if kind == "posta-certificata":
            headers.append("X-TipoRicevuta: completa")
        title = "Messaggio di posta certificata" if extra else "Anomalia nel messaggio"
        notice = _notice(title, self.subject, self.mittente, self.destinatari, self.data,
                         self.identificativo)  # fmt: skip
        parts = [notice, *extra, _message_part(self.postacert)]
        return _signed(headers, parts, f"<{self.identificativo}>", self.signer, micalg, ber)


def build_receipt(
    kind: str,
    *,
    msgid: str,
    mittente: str,
    destinatari: Sequence[str],
    identificativo: str,
    data: datetime,
    oggetto: str = "Domanda di partecipazione",
    errore: str | None = None,
    errore_esteso: str | None = None,
    original: bytes | None = None,
    consegna: str | None = None,
    receipt_id: str | None = None,
    gestore: str = DEFAULT_GESTORE,
    signer: ProviderKey | None = None,
) -> bytes:
    """A receipt for a message we sent (``msgid`` is our Message-ID, with angle brackets);
    ``identificativo`` is the provider's id of that message. ``original`` makes a full
    (``completa``) delivery receipt carrying postacert.eml."""
    if kind not in RECEIPT_KINDS:
        raise ValueError(f"unknown receipt kind {kind!r}")
    signer = signer or default_provider_key()
    delivered = kind in ("avvenuta-consegna", "errore-consegna") and destinatari
    daticert = build_daticert(
        kind, mittente=mittente, destinatari=destinatari, oggetto=oggetto, gestore=gestore,
        data=data, identificativo=identificativo, msgid=msgid,
        errore=errore or ("altro" if kind in _ERROR_KINDS else "nessuno"),
        ricevuta="completa" if kind == "avvenuta-consegna" else None,
        consegna=consegna or (destinatari[0] if delivered else None), errore_esteso=errore_esteso,
    )  # fmt: skip
    headers = [
        f"Date: {format_datetime(data)}",
        f"Subject: {_encode_header(SUBJECT_PREFIX[kind] + oggetto)}",
        f"X-Riferimento-Message-ID: {msgid}",
        f"To: {mittente}",
        f"X-Ricevuta: {kind}",
        f"From: posta-certificata@{signer.domain}",
    ]
    if kind == "rilevazione-virus":
        headers.append("X-VerificaSicurezza: errore")
    title = "Ricevuta: " + kind.replace("-", " ")
    parts = [_notice(title, oggetto, mittente, destinatari, data, identificativo),
             _xml_part(daticert)]  # fmt: skip
    if original is not None and kind == "avvenuta-consegna":
        parts.append(_message_part(original))
    own_id = receipt_id or f"opec-ricevuta.{_token(kind + identificativo, 16)}@{signer.domain}"
    return _signed(headers, parts, f"<{own_id}>", signer, "sha-256", False)


def build_daticert(
    tipo: str,
    *,
    mittente: str,
    destinatari: Sequence[str],
    oggetto: str,
    gestore: str,
    data: datetime,
    identificativo: str,
    msgid: str | None = None,
    errore: str = "nessuno",
    ricevuta: str | None = None,
    consegna: str | None = None,
    errore_esteso: str | None = None,
    zona: bool = True,
) -> bytes:
    """daticert.xml as providers write it (UTF-8, msgid XML-escaped with angle brackets)."""
    zone = f" zona={quoteattr(data.strftime('%z'))}" if zona else ""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<postacert tipo={quoteattr(tipo)} errore={quoteattr(errore)}>",
        "    <intestazione>",
        f"        <mittente>{escape(mittente)}</mittente>",
        *(f'        <destinatari tipo="certificato">{escape(address)}</destinatari>'
          for address in destinatari),
        f"        <risposte>{escape(mittente)}</risposte>",
        f"        <oggetto>{escape(oggetto)}</oggetto>",
        "    </intestazione>",
        "    <dati>",
        f"        <gestore-emittente>{escape(gestore)}</gestore-emittente>",
        f"        <data{zone}>",
        f"            <giorno>{data:%d/%m/%Y}</giorno>",
        f"            <ora>{data:%H:%M:%S}</ora>",
        "        </data>",
        f"        <identificativo>{escape(identificativo)}</identificativo>",
    ]
    optional = [("msgid", msgid), ("consegna", consegna), ("errore-esteso", errore_esteso)]
    lines += [f"        <{tag}>{escape(value)}</{tag}>" for tag, value in optional[:1] if value]
    lines += [f'        <ricevuta tipo="{ricevuta}" />'] if ricevuta else []
    lines += [f"        <{tag}>{escape(value)}</{tag}>" for tag, value in optional[1:] if value]
    lines += ["    </dati>", "</postacert>", ""]
    return "\n".join(lines).encode("utf-8")


def build_forward(inner: bytes, *, sender: str, to: str, subject: str, date: datetime) -> bytes:
    """An ordinary message carrying ``inner`` as a message/rfc822 attachment, as a list
    server or a forwarding user does."""
    boundary = "fwd-" + _token(inner, 24)
    head = (f"Date: {format_datetime(date)}\nFrom: {sender}\nTo: {to}\n"
            f"Subject: {_encode_header(subject)}\n"
            f"Message-ID: <{_token(inner, 12)}@lista.example>\nMIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n')  # fmt: skip
    text = _text_part("Messaggio inoltrato dalla lista.\n")
    return _crlf(head) + _join_parts([text, _message_part(inner, "inoltro.eml")], boundary)


def _signed(
    headers: list[str],
    parts: list[bytes],
    message_id: str,
    signer: ProviderKey,
    micalg: str,
    ber: bool,
) -> bytes:
    outer, mixed = "----" + _token(message_id, 32).upper(), "----------=_" + _token(message_id, 20)
    content = _crlf(f'Content-Type: multipart/mixed; boundary="{mixed}"\n'
                    "Content-Transfer-Encoding: binary\nMIME-Version: 1.0\n\n")  # fmt: skip
    content += _join_parts(parts, mixed).removesuffix(b"\r\n")
    signature = base64.encodebytes(signer.sign(content, micalg, ber)).replace(b"\n", b"\r\n")
    protocol = "application/pkcs7-signature"
    head = "\n".join([
        *headers, "MIME-Version: 1.0",
        f'Content-Type: multipart/signed; protocol="{protocol}"; micalg="{micalg}"; '
        f'boundary="{outer}"',
        f"Message-ID: {message_id}", "", "This is an S/MIME signed message", "", "",
    ])  # fmt: skip
    sig_head = _crlf(f'Content-Type: {protocol}; name="smime.p7s"\n'
                     "Content-Transfer-Encoding: base64\n"
                     'Content-Disposition: attachment; filename="smime.p7s"\n\n')  # fmt: skip
    delimiter = b"--" + outer.encode()
    return (_crlf(head) + delimiter + b"\r\n" + content + b"\r\n" + delimiter + b"\r\n"
            + sig_head + signature + b"\r\n" + delimiter + b"--\r\n")  # fmt: skip


def _join_parts(parts: Sequence[bytes], boundary: str) -> bytes:
    delimiter = b"--" + boundary.encode()
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    return body + delimiter + b"--\r\n"


def _notice(title: str, oggetto: str, mittente: str, destinatari: Sequence[str],
            data: datetime, identificativo: str) -> bytes:  # fmt: skip
    when = f"Il giorno {data:%d/%m/%Y} alle ore {data:%H:%M:%S} ({data:%z})"
    text = (f"--{title}--\n\n{when} il messaggio\n\"{oggetto}\" è stato inviato da "
            f"\"{mittente}\"\nindirizzato a:\n" + "\n".join(destinatari) +
            f"\nIdentificativo messaggio: {identificativo}\n")  # fmt: skip
    html = f"<html><body><h3>{escape(title)}</h3><p>{escape(text)}</p></body></html>\n"
    alternative = "----------=_alt" + _token(identificativo + title, 16)
    parts = [_qp_part(text, "text/plain"), _qp_part(html, "text/html")]
    head = _crlf(f'Content-Type: multipart/alternative;\n boundary="{alternative}"\n'
                 "Content-Transfer-Encoding: binary\n\n")  # fmt: skip
    return head + _join_parts(parts, alternative)


def _qp_part(text: str, ctype: str) -> bytes:
    encoded = quopri.encodestring(text.encode("iso-8859-1", "replace"))
    head = (f'Content-Type: {ctype}; charset="iso-8859-1"\nContent-Disposition: inline\n'
            "Content-Transfer-Encoding: quoted-printable\n\n")  # fmt: skip
    return _crlf(head) + _crlf_bytes(encoded)


def _text_part(text: str) -> bytes:
    encoded = quopri.encodestring(text.encode("utf-8"))
    head = ('Content-Type: text/plain; charset="utf-8"\n'
            "Content-Transfer-Encoding: quoted-printable\n\n")  # fmt: skip
    return _crlf(head) + _crlf_bytes(encoded)


def _xml_part(xml: bytes) -> bytes:
    head = ('Content-Type: application/xml; name="daticert.xml"\n'
            'Content-Disposition: inline; filename="daticert.xml"\n'
            "Content-Transfer-Encoding: base64\n\n")  # fmt: skip
    return _crlf(head) + _base64_lines(xml)


def _message_part(message: bytes, name: str = "postacert.eml") -> bytes:
    cte = "7bit" if message.isascii() else "8bit"
    head = (f'Content-Type: message/rfc822; name="{name}"\n'
            f'Content-Disposition: inline; filename="{name}"\n'
            f"Content-Transfer-Encoding: {cte}\n\n")  # fmt: skip
    return _crlf(head) + message


def _file_part(name: str, data: bytes, ctype: str, name_encoding: str) -> bytes:
    if name_encoding == "rfc2231":
        value = "utf-8''" + quote(name, safe="")
        params = f"; name*={value}", f"; filename*={value}"
    else:
        shown = _q_encode(name) if name_encoding == "rfc2047" else name
        params = f'; name="{shown}"', f'; filename="{shown}"'
    head = (f"Content-Type: {ctype}{params[0]}\nContent-Transfer-Encoding: base64\n"
            f"Content-Disposition: attachment{params[1]}\n\n")  # fmt: skip
    return _crlf(head) + _base64_lines(data)


def _rewrite_original(original: bytes, identificativo: str) -> tuple[bytes, str, str]:
    """Give the original the provider's Message-ID and an X-Riferimento-Message-ID, as a
    provider does; return it with the sender's Message-ID and subject."""
    split = re.search(rb"\r?\n\r?\n", original)
    end = split.start() if split else len(original)
    head, rest = original[:end], original[end:]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    found = re.search(rb"(?im)^message-id:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", head)
    msgid = found.group(1).strip().decode("ascii", "replace") if found else ""
    msgid = msgid or f"<{_token(original, 20)}@mittente.example>"
    subject_match = re.search(rb"(?im)^subject:[ \t]*([^\r\n]*)", head)
    subject = _decode_subject(subject_match.group(1).strip() if subject_match else b"")
    ours = (f"Message-ID: <{identificativo}>".encode() + newline
            + f"X-Riferimento-Message-ID: {msgid}".encode())  # fmt: skip
    head = head.replace(found.group(0), ours) if found else head + newline + ours
    return head + rest, msgid, subject


def _decode_subject(raw: bytes) -> str:
    return str(make_header(decode_header(raw.decode("ascii", "replace").rstrip("\r"))))


def _encode_header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _q_encode(name: str) -> str:
    chars = (chr(b) if _Q_SAFE.match(bytes([b])) else "_" if b == 32 else f"={b:02X}"
             for b in name.encode("utf-8"))  # fmt: skip
    return "=?utf-8?Q?" + "".join(chars) + "?="


def _base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def _crlf_bytes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _token(seed: str | bytes, length: int) -> str:
    raw = seed.encode("utf-8", "replace") if isinstance(seed, str) else seed
    return hashlib.sha256(raw).hexdigest()[:length]
