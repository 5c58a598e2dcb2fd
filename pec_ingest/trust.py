"""Is this envelope certified? Integrity of the provider's signature, and trust in the provider.

Two separate answers (:class:`Certification`):

* ``integrity``: the provider's S/MIME signature verifies over the signed part as received
  (daticert.xml and postacert.eml included, so an altered daticert fails), checked by
  :func:`parsers.smime.verify_detached`. None when there is no signature at all.
* ``trusted``: the certificate that signed is in, or was issued (directly, or through the
  certificates the signature carries) by a certificate in, the bundle named by
  ``[trust] ca_file`` (the providers' certificates as AgID publishes them, PEM), and was valid
  at the daticert time. None when no bundle is configured: then trust is not judged.
  Revocation (CRL/OCSP) is not checked.

An envelope is *certified* when its integrity holds and its provider is not untrusted; only
then do its daticert time (the legal time), the late flag and the reply's "data e ora legali"
come from it, and only then does a receipt change an acknowledgement's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256

from parsers.envelope import PecMessage
from pec_ingest.errors import ConfigError

MAX_CHAIN = 5


@dataclass(frozen=True)
class TrustSection:
    """``[trust]``: ``ca_file`` is a PEM bundle of PEC providers' certificates (or their CAs);
    empty: the provider is not judged (integrity only)."""

    ca_file: str = ""

    def problems(self) -> list[str]:
        """A bundle that cannot be read is a configuration error, found at start-up (not at
        the first message, which would then fail)."""
        if not self.ca_file:
            return []
        if not Path(self.ca_file).is_file():
            return [f"trust.ca_file: file non trovato {self.ca_file!r}"]
        try:
            TrustStore.load(self.ca_file)
        except ConfigError as exc:
            return [str(exc)]
        return []


@dataclass(frozen=True)
class TrustStore:
    path: str
    certificates: tuple[x509.Certificate, ...] = field(repr=False)

    @classmethod
    def load(cls, path: str) -> TrustStore:
        try:
            certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(f"trust.ca_file: {path} non leggibile ({exc.strerror})") from exc
        except ValueError as exc:
            raise ConfigError(f"trust.ca_file: {path} non contiene certificati PEM "
                              f"validi ({exc})") from exc
        return cls(path, tuple(certs))


@dataclass(frozen=True)
class Certification:
    integrity: bool | None
    trusted: bool | None
    detail: str

    @property
    def certified(self) -> bool:
        return self.integrity is True and self.trusted is not False


def certify(envelope: PecMessage, store: TrustStore | None) -> Certification:
    """Integrity and trust of ``envelope``'s provider signature (see the module doc)."""
    sig = envelope.signature
    if not sig.present:
        return Certification(None, None, "busta senza firma del gestore")
    if sig.valid is not True:
        return Certification(False, None, f"firma del gestore non valida: {sig.reason}")
    if store is None:
        return Certification(True, None, "firma del gestore integra; gestore non verificato "
                                         "(nessun elenco [trust] ca_file)")
    when = envelope.daticert.data if envelope.daticert and envelope.daticert.data else None
    trusted, detail = _chain(store, sig.certificates, when or datetime.now(UTC))
    return Certification(True, trusted, detail)


def _chain(store: TrustStore, chain: tuple[bytes, ...], when: datetime) -> tuple[bool, str]:
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError:
        return False, "certificato del gestore illeggibile"
    if not certs:
        return False, "la firma non porta il certificato del gestore"
    anchors = {c.fingerprint(SHA256()) for c in store.certificates}
    leaf = certs[0].subject.rfc4514_string()
    current = certs[0]
    for _ in range(MAX_CHAIN):
        if not current.not_valid_before_utc <= when <= current.not_valid_after_utc:
            return False, (f"certificato {current.subject.rfc4514_string()} non valido alla "
                           f"data {when:%d/%m/%Y %H:%M}")
        if current.fingerprint(SHA256()) in anchors:
            return True, f"gestore attendibile ({leaf})"
        issuer = _issuer_of(current, (*store.certificates, *certs[1:]))
        if issuer is None:
            break
        current = issuer
    return False, f"gestore non attendibile: {leaf} non risulta nell'elenco {store.path}"


def _issuer_of(cert: x509.Certificate,
               candidates: tuple[x509.Certificate, ...]) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer or candidate == cert:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, InvalidSignature):
            continue
        except TypeError:  # documented: the candidate's key type cannot sign certificates
            continue
        return candidate
    return None
