"""parsers.cades against the real signed files in ../shared/corpus (p7m/ and forms/*.p7m).

Expectations were written per file after inspecting each with
``openssl cms -cmsout -print -inform DER`` (and ``openssl cms -verify -noverify``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from parsers.cades import is_signed_container, unwrap
from parsers.errors import SignedDataError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
P7M = CORPUS / "p7m"
FORMS = CORPUS / "forms"

pytestmark = pytest.mark.skipif(not P7M.is_dir(), reason=f"corpus not present at {P7M}")


@dataclass(frozen=True)
class Expect:
    encoding: str
    layers: int
    format: str
    # codici fiscali of the signers, outer layer first (None: certificate without one)
    codici: tuple[str | None, ...]
    digest: str = "sha256"


EXPECTED: dict[str, Expect] = {
    # three parallel signers, BER; the third (FEA, Regione Lombardia) has no serialNumber
    "dss_FD1_FD2_FEA.pdf.p7m": Expect(
        "ber", 1, "pdf", ("RNLLSN92T28H910T", "DLGMRC65L15A794Y", None)
    ),
    "oca_IT01234567890_FPR03.xml.p7m": Expect("der", 1, "xml", ("CRTSRG74M18A459G",)),
    "oca_IT01234567890_FPR03.base64.xml.p7m": Expect("base64", 1, "xml", ("CRTSRG74M18A459G",)),
    "oca_IT05979361218_002.xml.p7m": Expect("der", 1, "xml", ("GRCLSS80E25B111T",)),
    # two layers under one name: outer DI NUZZO, inner PISACANE; BER
    "parer_cades+cades_crl_non_conforme.pdf.p7m": Expect(
        "ber", 2, "pdf", ("DNZCMN63E11F839W", "PSCLNS66S17F839S")
    ),
    # serialNumber is " IT:DSTLSN52A01C342F" (leading space)
    "parer_cades_bes.pdf.p7m": Expect("der", 1, "pdf", ("DSTLSN52A01C342F",)),
    # base64 with CRLF, SHA-1 signer (MD5 listed among the digest algorithms)
    "parer_p7m_b64.xml.p7m": Expect("base64", 1, "xml", ("GHZRTI58H44G535O",), "sha1"),
    "dev_007_table_form.pdf.p7m": Expect("der", 1, "pdf", ("CTTNDR69D08F205S",)),
    "dev_011_controls_form.pdf.p7m": Expect("der", 1, "pdf", ("RSSMRC65D27F205Z",)),
    "dev_018_narrative.docx.p7m": Expect("der", 1, "docx", ("SPSNNA75S43H501H",)),
    "dev_023_controls_form.pdf.p7m": Expect("der", 1, "pdf", ("SPSLNE83E55B157Q",)),
}
JUNK = {
    "oca_IT05979361218_fake.xml.p7m": "2 byte",  # " \n"
    "dss_malformed-cades.p7m": "43 83 04 17",  # first byte 0x43, lengths wrong
}


def _corpus_files() -> list[Path]:
    files = sorted(P7M.glob("*")) if P7M.is_dir() else []
    return files + (sorted(FORMS.glob("*.p7m")) if FORMS.is_dir() else [])


def _path(name: str) -> Path:
    path = (FORMS if name.startswith("dev_") else P7M) / name
    if not path.is_file():
        pytest.skip(f"{name} not in the corpus")
    return path


def test_every_corpus_file_has_an_expectation() -> None:
    names = {p.name for p in _corpus_files()}
    assert names, "empty corpus"
    assert names <= set(EXPECTED) | set(JUNK), sorted(names - set(EXPECTED) - set(JUNK))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signed_file_unwraps_as_expected(name: str) -> None:
    data = _path(name).read_bytes()
    expect = EXPECTED[name]
    doc = unwrap(data)
    assert is_signed_container(data)
    assert (doc.encoding, doc.layers, doc.format) == (expect.encoding, expect.layers, expect.format)
    assert tuple(s.codice_fiscale for s in doc.signers) == expect.codici
    assert doc.signers[0].digest_algorithm == expect.digest
    assert doc.valid, [s.reason for s in doc.signers]
    assert all(s.name and s.signing_time and s.issuer for s in doc.signers)
    assert doc.sha256 == hashlib.sha256(doc.content).hexdigest()
    assert not is_signed_container(doc.content)


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_gives_a_clear_signed_data_error(name: str) -> None:
    with pytest.raises(SignedDataError, match=JUNK[name]):
        unwrap(_path(name).read_bytes())


def test_base64_and_der_copies_hold_the_same_document() -> None:
    der = unwrap(_path("oca_IT01234567890_FPR03.xml.p7m").read_bytes())
    b64 = unwrap(_path("oca_IT01234567890_FPR03.base64.xml.p7m").read_bytes())
    assert der.content == b64.content and der.signers == b64.signers
    assert der.content.startswith(b"<?xml")


def test_signer_serial_number_is_kept_raw() -> None:
    doc = unwrap(_path("parer_cades_bes.pdf.p7m").read_bytes())
    assert doc.signers[0].serial_number == " IT:DSTLSN52A01C342F"
    assert doc.signers[0].name == "DI STEFANO ALESSANDRO"


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if n.startswith("dev_")])
def test_form_signer_is_the_legal_representative(name: str) -> None:
    truth = json.loads(_path(name).with_name(name + ".truth.json").read_text("utf-8"))
    doc = unwrap(_path(name).read_bytes())
    assert [s.name for s in doc.signers] == [truth["fields"]["legale_rappresentante"]]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
@pytest.mark.parametrize("name", [n for n, e in sorted(EXPECTED.items()) if e.encoding != "base64"])
def test_content_matches_what_openssl_extracts(name: str, tmp_path: Path) -> None:
    out = tmp_path / "content"
    command = ["openssl", "cms", "-verify", "-noverify", "-binary", "-inform", "DER"]
    command.extend(["-in", str(_path(name)), "-out", str(out)])
    subprocess.run(command, check=True, capture_output=True)
    outer = out.read_bytes()
    doc = unwrap(_path(name).read_bytes())
    if EXPECTED[name].layers == 1:
        assert doc.content == outer
    else:  # openssl opens one layer; the rest must unwrap to the same document
        assert unwrap(outer).content == doc.content
