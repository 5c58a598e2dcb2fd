"""The command-line contract (issues 2 and 3), run as real ``python -m pec_ingest`` processes.

Every process gets a clean environment: no ``PEC_INGEST_*`` variables, no ``STATE_DIRECTORY``,
and ``HOME`` / ``XDG_STATE_HOME`` inside ``tmp_path``, so nothing reads or writes the real
user's state. Work shared by several tests (the corpus runs, the demo, the sample mailbox
files) is done once per module, and independent commands run concurrently.
"""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from pec_ingest.export import COLUMNS, HEADINGS, SHEET_NAMES, TAVOLO_NAMES
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import SampleMessage, sample_mailbox
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import Organisation, make_organisation
from pec_ingest.wording import OUTCOME_LABELS

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PEC_CORPUS = CORPUS / "pec"
FORMS_CORPUS = CORPUS / "forms"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus assente: {CORPUS}")

EX_CONFIG = 78
TIMEOUT = 120
CANONICAL_FIELDS = {"denominazione", "natura_giuridica", "codice_fiscale", "partita_iva",
                    "sede_legale", "comune", "legale_rappresentante", "referente", "email",
                    "pec", "telefono"}
INSPECT_KEYS = {"kind", "daticert", "sender", "riferimento_message_id", "subject",
                "attachments", "signature", "warnings"}
# PecMessage.to_json (parsers/envelope.py) also emits the envelope's own Message-ID.
INSPECT_DOCUMENTED_EXTRA = {"message_id"}
DATICERT_KEYS = {"tipo", "errore", "mittente", "destinatari", "risposte", "oggetto",
                 "gestore_emittente", "data", "identificativo", "msgid", "ricevuta",
                 "consegna", "ricezione", "errore_esteso"}
PARSE_KEYS = {"file", "status", "fields", "tavoli", "document", "signature", "warnings"}
ADHERENT_KEYS = {"registration_number", "received_at", "late", "sender", "denominazione",
                 "natura_giuridica", "codice_fiscale", "partita_iva", "sede_legale", "comune",
                 "legale_rappresentante", "referente", "email", "pec", "telefono", "tavoli",
                 "status"}
REGISTRATION = re.compile(r"PDZ2019-\d{4}")
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
CF_PERSON = re.compile(r"^[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]$")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ROME_SUMMER = timezone(timedelta(hours=2))


# --------------------------------------------------------------------------------------------
# running the command line


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def explain(self) -> str:
        return (f"pec-ingest {' '.join(self.args)} -> {self.returncode}\n"
                f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}")


@dataclass(frozen=True)
class Started:
    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment minus anything that would make pec-ingest read real state or config."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PEC_INGEST_") and k != "STATE_DIRECTORY"}
    env["HOME"] = str(home / "home")
    env["XDG_STATE_HOME"] = str(home / "xdg-state")
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def start(args: Sequence[str | Path], env: Mapping[str, str], cwd: Path) -> Started:
    argv = [sys.executable, "-m", "pec_ingest", *map(str, args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(env), cwd=cwd)
    return Started(tuple(map(str, args)), proc)


def finish(started: Started) -> Run:
    try:
        out, err = started.proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        started.proc.kill()
        out, err = started.proc.communicate()
    return Run(started.args, started.proc.returncode, out.decode("utf-8", "replace"),
               err.decode("utf-8", "replace"))


def run_many(commands: Sequence[Sequence[str | Path]], env: Mapping[str, str],
             cwd: Path) -> list[Run]:
    """Start every command at once (they are independent) and wait for all of them."""
    return [finish(s) for s in [start(args, env, cwd) for args in commands]]


def run(args: Sequence[str | Path], env: Mapping[str, str], cwd: Path) -> Run:
    return run_many([args], env, cwd)[0]


def one_line_reason(result: Run) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.explain()
    assert lines[0].strip(), result.explain()
    return lines[0]


# --------------------------------------------------------------------------------------------
# inspect MESSAGE.eml --json on the real PEC corpus

INSPECTED = {
    "oca_ACCETTAZIONE_IT03339130126_00009.xml.eml": "accettazione",
    "oca_CONSEGNA_IT03339130126_00009.xml.eml": "avvenuta-consegna",
    "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml": "posta-certificata",
    "biagioT_consegna.eml": "errore-consegna",
}


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus assente: {CORPUS}")
    home = tmp_path_factory.mktemp("inspect")
    runs = run_many([("inspect", PEC_CORPUS / name, "--json") for name in INSPECTED],
                    clean_env(home), home)
    return dict(zip(INSPECTED, runs, strict=True))


def stdlib_parts(raw: bytes) -> tuple[EmailMessage, EmailMessage | None, bytes | None]:
    """The message, its postacert.eml and daticert.xml, found independently by the stdlib."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    postacert = daticert = None
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822" and postacert is None:
            payload_list = part.get_payload()
            assert isinstance(payload_list, list)
            inner = payload_list[0]
            assert isinstance(inner, EmailMessage)
            postacert = inner
        elif part.get_filename() == "daticert.xml" and daticert is None:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            daticert = payload
    return msg, postacert, daticert


@needs_corpus
@pytest.mark.parametrize("name", list(INSPECTED))
def test_inspect_json_shape_and_kind(inspected: dict[str, Run], name: str) -> None:
    result = inspected[name]
    assert result.returncode == 0, result.explain()
    doc = result.json()
    assert INSPECT_KEYS <= set(doc) <= INSPECT_KEYS | INSPECT_DOCUMENTED_EXTRA, set(doc)
    assert doc["kind"] == INSPECTED[name]
    assert isinstance(doc["warnings"], list)
    assert set(doc["signature"]) == {"present", "valid"}
    assert doc["signature"]["present"] is True
    daticert = doc["daticert"]
    assert isinstance(daticert, dict)
    assert set(daticert) == DATICERT_KEYS
    assert not any("-" in key for key in daticert)
    assert daticert["tipo"] == INSPECTED[name]
    assert ISO_WITH_OFFSET.match(daticert["data"]), daticert["data"]
    assert datetime.fromisoformat(daticert["data"]).utcoffset() is not None
    assert daticert["destinatari"], daticert
    for recipient in daticert["destinatari"]:
        assert set(recipient) == {"address", "tipo"}
        assert "@" in recipient["address"]
    assert doc["sender"] == daticert["mittente"].strip().lower()


@needs_corpus
@pytest.mark.parametrize("name", [n for n in INSPECTED if n.startswith("oca_")])
def test_inspect_daticert_matches_the_xml(inspected: dict[str, Run], name: str) -> None:
    """Cross-check against daticert.xml read with the standard library."""
    doc = inspected[name].json()
    _, _, xml = stdlib_parts((PEC_CORPUS / name).read_bytes())
    assert xml is not None
    root = ET.fromstring(xml)
    dati, head = root.find("dati"), root.find("intestazione")
    assert dati is not None and head is not None
    d = doc["daticert"]
    assert d["tipo"] == root.get("tipo")
    assert d["errore"] == root.get("errore")
    assert d["mittente"] == (head.findtext("mittente") or "").strip()
    assert d["gestore_emittente"] == (dati.findtext("gestore-emittente") or "").strip()
    assert d["identificativo"] == (dati.findtext("identificativo") or "").strip()
    assert d["msgid"] == (dati.findtext("msgid") or "").strip()
    assert [(r["address"], r["tipo"]) for r in d["destinatari"]] == [
        ((e.text or "").strip(), e.get("tipo")) for e in head.findall("destinatari")]
    data = dati.find("data")
    assert data is not None
    local = datetime.strptime(f"{data.findtext('giorno')} {data.findtext('ora')}",
                              "%d/%m/%Y %H:%M:%S")
    zona = data.get("zona") or "+0000"
    expected = local.replace(tzinfo=datetime.strptime(zona, "%z").tzinfo)
    assert datetime.fromisoformat(d["data"]) == expected
    assert datetime.fromisoformat(d["data"]).utcoffset() == expected.utcoffset()
    assert doc["riferimento_message_id"] == d["msgid"]
    assert doc["signature"] == {"present": True, "valid": True}  # the corpus says: verifies
    assert doc["warnings"] == []


@needs_corpus
@pytest.mark.parametrize("name", ["oca_POSTA_CERTIFICATA_Invio_File_7339338.eml",
                                  "oca_CONSEGNA_IT03339130126_00009.xml.eml"])
def test_inspect_attachments_are_those_of_postacert(inspected: dict[str, Run],
                                                    name: str) -> None:
    doc = inspected[name].json()
    _, postacert, _ = stdlib_parts((PEC_CORPUS / name).read_bytes())
    assert postacert is not None
    expected = []
    for part in postacert.walk():
        filename = part.get_filename()
        if filename and not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            expected.append((filename, len(payload), hashlib.sha256(payload).hexdigest()))
    assert expected, "the corpus file carries attachments"
    for att in doc["attachments"]:
        assert set(att) == {"filename", "content_type", "size", "sha256"}
        assert re.fullmatch(r"[0-9a-f]{64}", att["sha256"])
        assert "/" in att["content_type"]
    got = [(a["filename"], a["size"], a["sha256"]) for a in doc["attachments"]]
    assert sorted(got) == sorted(expected)


@needs_corpus
def test_inspect_acceptance_receipt_has_no_attachments(inspected: dict[str, Run]) -> None:
    doc = inspected["oca_ACCETTAZIONE_IT03339130126_00009.xml.eml"].json()
    assert doc["attachments"] == []
    assert doc["daticert"]["ricevuta"] is None


# --------------------------------------------------------------------------------------------
# parse FILE --json on the forms corpus, unreadable inputs, --score, an .eml

PARSED = ("dev_004_table_form.docx", "dev_001_table_form.pdf", "dev_007_table_form.pdf.p7m",
          "dev_018_narrative.docx.p7m", "dev_010_table_form_scan.pdf")


def truth(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FORMS_CORPUS / f"{name}.truth.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus assente: {CORPUS}")
    home = tmp_path_factory.mktemp("parse")
    runs = run_many([("parse", FORMS_CORPUS / name, "--json") for name in PARSED],
                    clean_env(home), home)
    return dict(zip(PARSED, runs, strict=True))


@needs_corpus
@pytest.mark.parametrize("name", PARSED)
def test_parse_json_shape(parsed: dict[str, Run], name: str) -> None:
    result = parsed[name]
    assert result.returncode == 0, result.explain()
    doc = result.json()
    assert set(doc) == PARSE_KEYS
    assert doc["file"] == name
    assert set(doc["fields"]) == CANONICAL_FIELDS
    assert set(doc["document"]) == {"format", "sha256"}
    assert re.fullmatch(r"[0-9a-f]{64}", doc["document"]["sha256"])
    assert isinstance(doc["warnings"], list)
    for tavolo in doc["tavoli"]:
        assert set(tavolo) == {"code", "rank"}
        assert tavolo["code"] in TAVOLO_NAMES
        assert tavolo["rank"] is None or isinstance(tavolo["rank"], int)


@needs_corpus
@pytest.mark.parametrize("name", [n for n in PARSED if "scan" not in n])
def test_parse_reads_the_form(parsed: dict[str, Run], name: str) -> None:
    doc, expected = parsed[name].json(), truth(name)
    assert doc["status"] == "complete"
    for key in ("codice_fiscale", "partita_iva", "email", "pec", "comune", "natura_giuridica"):
        assert doc["fields"][key] == expected["fields"][key], key
    assert {t["code"] for t in doc["tavoli"]} == set(expected["tavoli"])
    ranks = [t["rank"] for t in doc["tavoli"]]
    if expected["ranked"]:
        assert [t["code"] for t in doc["tavoli"]] == expected["tavoli"]
        assert ranks == list(range(1, len(ranks) + 1))
    else:
        assert ranks == [None] * len(ranks)


@needs_corpus
@pytest.mark.parametrize("name", ["dev_004_table_form.docx", "dev_001_table_form.pdf"])
def test_parse_unsigned_document(parsed: dict[str, Run], name: str) -> None:
    doc = parsed[name].json()
    assert doc["signature"] is None
    assert doc["document"]["format"] == name.rsplit(".", 1)[1]
    assert doc["document"]["sha256"] == hashlib.sha256(
        (FORMS_CORPUS / name).read_bytes()).hexdigest()


def check_signed(doc: dict[str, Any], name: str, inner_format: str) -> None:
    signature = doc["signature"]
    assert signature is not None, "a .p7m must report its signature"
    assert set(signature) == {"signers", "valid"}
    assert signature["valid"] is True
    assert signature["signers"]
    for signer in signature["signers"]:
        assert set(signer) == {"name", "codice_fiscale"}
        assert signer["name"]
        assert CF_PERSON.match(signer["codice_fiscale"] or ""), signer
    # the corpus forms are signed by their legal representative
    representative = truth(name)["fields"]["legale_rappresentante"]
    assert {s["name"].casefold() for s in signature["signers"]} == {representative.casefold()}
    # document describes the signed content, not the envelope
    assert doc["document"]["format"] == inner_format
    assert doc["document"]["sha256"] != hashlib.sha256(
        (FORMS_CORPUS / name).read_bytes()).hexdigest()


@needs_corpus
def test_parse_signed_docx_reports_signers(parsed: dict[str, Run]) -> None:
    name = "dev_018_narrative.docx.p7m"
    check_signed(parsed[name].json(), name, "docx")


@needs_corpus
def test_parse_signed_pdf_reports_signers(parsed: dict[str, Run]) -> None:
    name = "dev_007_table_form.pdf.p7m"
    check_signed(parsed[name].json(), name, "pdf")


@needs_corpus
def test_parse_scan_goes_to_review(parsed: dict[str, Run]) -> None:
    name = "dev_010_table_form_scan.pdf"
    doc, expected = parsed[name].json(), truth(name)
    assert expected["expect_review"] is True
    assert doc["status"] == "needs_review"
    assert doc["warnings"]
    for key, value in doc["fields"].items():
        assert value is None or value == expected["fields"][key], key  # never a wrong value


@pytest.fixture(scope="module")
def unreadable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """parse on files that cannot be read, plus commands with bad arguments."""
    home = tmp_path_factory.mktemp("unreadable")
    pdf = build_pdf_bytes()
    files = {
        "junk.pdf": bytes(range(256)) * 64,
        "empty.docx": b"",
        "truncated.pdf": pdf[: len(pdf) // 2],
        "corrupt.docx": corrupt_deflate(build_docx(make_organisation(5), "table")),
    }
    for name, data in files.items():
        (home / name).write_bytes(data)
    original = build_original(sender="ente@pec.example.it", to=["protocollo@pec.example.it"],
                              subject="Allegato 1", date=datetime(2019, 9, 2, tzinfo=ROME_SUMMER),
                              message_id="<vuoto@pec.example.it>")
    (home / "no-attachment.eml").write_bytes(build_envelope(
        original, mittente="ente@pec.example.it", destinatari=["protocollo@pec.example.it"],
        identificativo="opec.vuoto@pec.simulato.example",
        data=datetime(2019, 9, 2, tzinfo=ROME_SUMMER)))
    commands: list[tuple[str, ...]] = [("parse", name, "--json") for name in files]
    commands += [("parse", "no-attachment.eml", "--json"), ("parse", "missing.pdf", "--json"),
                 ("inspect", "missing.eml", "--json")]
    runs = run_many(commands, clean_env(home), home)
    return {" ".join(r.args): r for r in runs}


def corrupt_deflate(docx: bytes) -> bytes:
    """The DOCX with the first byte of word/document.xml's deflate stream set to 0xFF."""
    info = zipfile.ZipFile(io.BytesIO(docx)).getinfo("word/document.xml")
    (name_len, extra_len) = struct.unpack_from("<HH", docx, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    return docx[:start] + b"\xff" + docx[start + 1:]


def build_pdf_bytes() -> bytes:
    from pec_ingest.samples.pdf_forms import build_pdf

    return build_pdf(make_organisation(5), "table")



@pytest.mark.parametrize("command", [
    "parse junk.pdf --json", "parse empty.docx --json", "parse truncated.pdf --json",
    "parse no-attachment.eml --json", "parse missing.pdf --json", "inspect missing.eml --json",
    pytest.param("parse corrupt.docx --json", marks=()),
])
def test_unreadable_input_exits_2_with_one_line(unreadable: dict[str, Run], command: str) -> None:
    result = unreadable[command]
    assert result.returncode == 2, result.explain()
    assert result.stdout == ""
    line = one_line_reason(result)
    assert line.startswith("pec-ingest")
    assert "Traceback" not in result.stderr


def test_unreadable_reasons_name_the_problem(unreadable: dict[str, Run]) -> None:
    assert "0 byte" in unreadable["parse empty.docx --json"].stderr
    assert "PDF" in unreadable["parse truncated.pdf --json"].stderr
    assert "junk.pdf" in unreadable["parse junk.pdf --json"].stderr


@needs_corpus
def test_parse_score_prints_totals_and_fields(tmp_path: Path) -> None:
    result = run(("parse", "--score", FORMS_CORPUS), clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.explain()
    files = len(list(FORMS_CORPUS.glob("*.truth.json")))
    rows = dict.fromkeys(CANONICAL_FIELDS, (0, 0, 0))
    seen = set()
    for line in result.stdout.splitlines():
        m = re.fullmatch(r"(\w+)\s+(\d+)\s+(\d+)\s+(\d+)", line.strip())
        if m and m.group(1) in CANONICAL_FIELDS:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            seen.add(m.group(1))
    assert seen == CANONICAL_FIELDS, result.stdout
    assert all(sum(counts) == files for counts in rows.values()), rows
    total = re.search(r"TOTAL fields: (\d+)/(\d+) right \(([\d.]+)%\), (\d+) wrong",
                      result.stdout)
    assert total, result.stdout
    right, all_fields = int(total.group(1)), int(total.group(2))
    assert all_fields == files * len(CANONICAL_FIELDS)
    assert right == sum(r for r, _, _ in rows.values())
    assert float(total.group(3)) >= 98.0  # the acceptance bar of issue 2
    assert int(total.group(4)) == sum(w for _, _, w in rows.values())


def test_parse_eml_parses_its_docx_attachment(tmp_path: Path) -> None:
    org = make_organisation(21)
    docx = build_docx(org, "table")
    when = datetime(2019, 9, 5, 10, 30, tzinfo=ROME_SUMMER)
    original = build_original(
        sender=org.pec, to=["protocollo@pec.example.it"], subject="Allegato 1",
        date=when, message_id="<allegato.21@pec.example.it>",
        attachments=[("leggimi.txt", b"vedi allegato\n", "text/plain"),
                     ("Allegato 1 compilato.docx", docx, DOCX_TYPE)])
    raw = build_envelope(original, mittente=org.pec, destinatari=["protocollo@pec.example.it"],
                         identificativo="opec.cli.21@pec.simulato.example", data=when)
    (tmp_path / "domanda.eml").write_bytes(raw)
    result = run(("parse", "domanda.eml", "--json"), clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.explain()
    doc = result.json()
    assert set(doc) == PARSE_KEYS
    assert doc["file"].endswith("Allegato 1 compilato.docx")
    assert doc["document"] == {"format": "docx", "sha256": hashlib.sha256(docx).hexdigest()}
    assert doc["status"] == "complete"
    assert doc["fields"]["codice_fiscale"] == org.codice_fiscale
    assert doc["fields"]["denominazione"] == org.denominazione
    assert doc["fields"]["pec"] == org.pec
    assert {t["code"] for t in doc["tavoli"]} == set(org.tavoli)


# --------------------------------------------------------------------------------------------
# demo


@dataclass(frozen=True)
class DemoRuns:
    first: Run
    second: Run
    folder: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRuns:
    home = tmp_path_factory.mktemp("demo")
    folder = home / "demo-dir"
    env = clean_env(home)
    first = run(("demo", "--dir", folder), env, home)
    second = run(("demo", "--dir", folder), env, home)
    return DemoRuns(first, second, folder)


def per_message_lines(output: str) -> list[str]:
    head = output.split("\nEsiti:")[0]
    return [line.strip() for line in head.splitlines()[1:] if line.startswith("  ")]


def adherent_tables(output: str) -> str:
    """The per-table lists the demo prints (from the first table to the hint)."""
    start = output.index("\nArea ")
    end = output.index("\nPer esplorare")
    return output[start:end]


def test_demo_prints_tables_and_registration_numbers(demo: DemoRuns) -> None:
    result = demo.first
    assert result.returncode == 0, result.explain()
    for name in TAVOLO_NAMES.values():
        assert name in result.stdout
    numbers = set(REGISTRATION.findall(result.stdout))
    submissions = [s for s in sample_mailbox_cached() if s.expect.get("outcome") == "submission"]
    assert len(numbers) == len(submissions)
    assert (demo.folder / "demo.db").is_file()
    lines = per_message_lines(result.stdout)
    assert len(lines) == len(sample_mailbox_cached())
    for sample in sample_mailbox_cached():
        line = next(x for x in lines if x.split()[0] == sample.name)
        said = line.split(None, 1)[1]
        assert said.startswith(OUTCOME_LABELS[sample.expect["outcome"]]), line


def test_demo_twice_gives_the_same_adherents(demo: DemoRuns) -> None:
    assert demo.second.returncode == 0, demo.second.explain()
    tables = adherent_tables(demo.first.stdout)
    assert REGISTRATION.search(tables)
    assert adherent_tables(demo.second.stdout) == tables
    lines = per_message_lines(demo.second.stdout)
    assert not any(REGISTRATION.search(line) for line in lines), "no new registration"


def test_demo_second_run_records_only_duplicates(demo: DemoRuns) -> None:
    lines = per_message_lines(demo.second.stdout)
    assert lines
    assert all(line.split(None, 1)[1].startswith(OUTCOME_LABELS["duplicate"])
               for line in lines), lines


# --------------------------------------------------------------------------------------------
# db upgrade, ingest, adherents, stats, show: both databases

_MAILBOX: list[SampleMessage] = []


def sample_mailbox_cached() -> list[SampleMessage]:
    if not _MAILBOX:
        _MAILBOX.extend(sample_mailbox())
    return _MAILBOX


def organisations() -> dict[str, Organisation]:
    """The sample mailbox's organisations by name (the mailbox builds them from these seeds)."""
    orgs = {o.denominazione: o for o in map(make_organisation, range(11, 18))}
    named = {s.expect["organisation"] for s in sample_mailbox_cached()
             if "organisation" in s.expect}
    assert named <= set(orgs), "pec_ingest.samples.mailbox changed its organisations"
    return orgs


@dataclass(frozen=True)
class MailFiles:
    eml: tuple[Path, ...]  # submissions, in arrival order
    maildir: Path  # the rest, in new/ and cur/
    expected: dict[str, str]  # file name -> expected outcome


@pytest.fixture(scope="module")
def mail_files(tmp_path_factory: pytest.TempPathFactory) -> MailFiles:
    folder = tmp_path_factory.mktemp("mail")
    maildir = folder / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "tmp" / "in-delivery").write_bytes(b"From: half@written\r\n")
    eml, expected = [], {}
    for index, sample in enumerate(sample_mailbox_cached()):
        if sample.expect["outcome"] == "submission":
            path = folder / f"{index:02d}-{sample.name}.eml"
        elif index % 2:
            path = maildir / "new" / f"15680000{index:02d}.M1P1.host.{sample.name}"
        else:
            path = maildir / "cur" / f"15680000{index:02d}.M1P1.host.{sample.name}:2,S"
        path.write_bytes(sample.raw)
        if path.suffix == ".eml":
            eml.append(path)
        expected[path.name] = sample.expect["outcome"]
    return MailFiles(tuple(eml), maildir, expected)


@dataclass(frozen=True)
class Ingested:
    env: dict[str, str]
    cwd: Path
    config: Path
    first: Run
    files: MailFiles


def write_config(folder: Path, database_url: str) -> Path:
    path = folder / "pec-ingest.toml"
    path.write_text(
        f'[state]\ndir = "{folder / "state"}"\n\n'
        f'[database]\nurl = "{database_url}"\n\n'
        '[procedure]\ntimezone = "Europe/Rome"\ndeadline = 2019-09-09\n', encoding="utf-8")
    return path


@pytest.fixture
def ingested(database_url: str, tmp_path: Path, mail_files: MailFiles) -> Ingested:
    # The config names a SQLite file that must never be used: the environment overrides it.
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'not-this-one.db'}")
    env = clean_env(tmp_path, PEC_INGEST_DATABASE_URL=database_url)
    upgrade = run(("--config", config, "db", "upgrade"), env, tmp_path)
    assert upgrade.returncode == 0, upgrade.explain()
    first = run(("--config", config, "ingest", *mail_files.eml, mail_files.maildir), env,
                tmp_path)
    assert first.returncode == 0, first.explain()
    assert not (tmp_path / "not-this-one.db").exists()
    return Ingested(env, tmp_path, config, first, mail_files)


def outcomes(output: str) -> dict[str, str]:
    """File name -> outcome, from the lines ``PATH: OUTCOME [NUMBER] - reason``."""
    found = {}
    for line in output.splitlines():
        if line.startswith("totale:") or ": " not in line:
            continue
        path, rest = line.split(": ", 1)
        found[Path(path).name] = next(code for code, label in OUTCOME_LABELS.items()
                                      if rest.startswith(label))
    return found


def adherents(ing: Ingested, *extra: str) -> list[dict[str, Any]]:
    result = run(("--config", ing.config, "adherents", "--format", "json", *extra), ing.env,
                 ing.cwd)
    assert result.returncode == 0, result.explain()
    rows: list[dict[str, Any]] = result.json()
    return rows


def test_ingest_records_every_message_once(ingested: Ingested) -> None:
    assert outcomes(ingested.first.stdout) == ingested.files.expected
    assert "in-delivery" not in ingested.first.stdout  # Maildir tmp/ is not read
    again = run(("--config", ingested.config, "ingest", *ingested.files.eml,
                 ingested.files.maildir), ingested.env, ingested.cwd)
    assert again.returncode == 0, again.explain()
    assert set(outcomes(again.stdout).values()) == {"duplicate"}
    assert len(outcomes(again.stdout)) == len(ingested.files.expected)
    stats = run(("--config", ingested.config, "stats", "--format", "json"), ingested.env,
                ingested.cwd)
    assert stats.returncode == 0, stats.explain()
    figures = stats.json()
    samples = sample_mailbox_cached()
    submitted = {s.expect["organisation"] for s in samples if s.expect["outcome"] == "submission"}
    assert figures["adherents"] == len(submitted)
    late = {s.expect["organisation"] for s in samples if s.expect.get("late")}
    assert figures["late"] == len(late)
    assert figures["on_time"] == len(submitted) - len(late)
    assert figures["per_status"] == {"complete": len(submitted) - 1, "needs_review": 1}
    expected_messages = {o: sum(1 for s in samples if s.expect["outcome"] == o)
                         for o in ("submission", "ignored", "receipt", "anomaly")}
    assert {k: figures["messages"][k] for k in expected_messages} == expected_messages
    assert figures["messages"].get("duplicate", 0) == 0
    orgs = organisations()
    ocr = shutil.which("tesseract") is not None  # a scan's ticked boxes are read (issue 14)
    readable = [orgs[name] for name in submitted
                if ocr or not any(s.expect.get("status") == "needs_review"
                                  and s.expect["organisation"] == name for s in samples)]
    assert figures["per_tavolo"] == {code: sum(code in o.tavoli for o in readable)
                                     for code in TAVOLO_NAMES}


def test_adherents_json_rows_and_filters(ingested: Ingested) -> None:
    base = ("--config", ingested.config, "adherents", "--format", "json")
    everyone, famiglia, late, review, complete, missing = run_many(
        [base, (*base, "--tavolo", "famiglia"), (*base, "--late"),
         (*base, "--status", "needs_review"), (*base, "--status", "complete"),
         ("--config", ingested.config, "show", "99999")], ingested.env, ingested.cwd)
    for result in (everyone, famiglia, late, review, complete):
        assert result.returncode == 0, result.explain()
    rows: list[dict[str, Any]] = everyone.json()
    samples = sample_mailbox_cached()
    orgs = organisations()
    by_name = {s.expect["organisation"]: s for s in samples
               if s.expect["outcome"] == "submission"}
    assert len(rows) == len(by_name)
    for row in rows:
        assert set(row) == ADHERENT_KEYS
        assert REGISTRATION.fullmatch(row["registration_number"])
        assert ISO_WITH_OFFSET.match(row["received_at"]), row["received_at"]
        assert isinstance(row["late"], bool)
    assert len({r["registration_number"] for r in rows}) == len(rows)
    readable = [r for r in rows if r["status"] != "needs_review"]
    assert len(readable) == len(rows) - 1
    for row in readable:
        org = orgs[row["denominazione"]]
        sample = by_name[org.denominazione]
        assert row["codice_fiscale"] == org.codice_fiscale
        assert row["status"] == "complete"
        assert row["late"] is bool(sample.expect.get("late"))
        assert row["tavoli"].split(";") and set(row["tavoli"].split(";")) == set(org.tavoli)
        assert row["sender"] == ("segreteria@pec.altroente.example"
                                 if sample.name == "g-other-sender" else org.pec)
    # the resubmission superseded the first version of the same organisation
    resubmitted = next(s for s in samples if "supersedes" in s.expect)
    current = next(r for r in rows if r["denominazione"] == resubmitted.expect["organisation"])
    assert datetime.fromisoformat(current["received_at"]) == datetime(
        2019, 9, 6, 12, 45, tzinfo=ROME_SUMMER)

    def numbers(result: Run) -> set[str]:
        return {r["registration_number"] for r in result.json()}

    assert numbers(famiglia) == {r["registration_number"] for r in rows
                                 if "famiglia" in r["tavoli"].split(";")}
    assert 0 < len(numbers(famiglia)) < len(rows)
    assert numbers(late) == {r["registration_number"] for r in rows if r["late"]}
    assert len(numbers(late)) == sum(1 for s in by_name.values() if s.expect.get("late"))
    assert numbers(review) == {r["registration_number"] for r in rows
                               if r["status"] == "needs_review"}
    assert len(numbers(review)) == 1
    assert numbers(complete) == {r["registration_number"] for r in readable}

    assert missing.returncode != 0, missing.explain()
    assert "99999" in missing.stderr
    assert re.search(r"\bnessun[ao]?\b|non trovat", missing.stderr), missing.stderr
    assert "Traceback" not in missing.stderr

    shown = run(("--config", ingested.config, "show", current["registration_number"]),
                ingested.env, ingested.cwd)
    assert shown.returncode == 0, shown.explain()
    for key in ("registration_number", "denominazione", "codice_fiscale", "pec", "sender"):
        assert current[key] in shown.stdout, key
    assert len(set(REGISTRATION.findall(shown.stdout))) == 2  # both versions are listed


def test_adherents_csv_and_xlsx(ingested: Ingested) -> None:
    from openpyxl import load_workbook

    base = ("--config", ingested.config, "adherents")
    csv_file, xlsx_file = ingested.cwd / "aderenti.csv", ingested.cwd / "aderenti.xlsx"
    as_json, as_csv, as_xlsx = run_many(
        [(*base, "--format", "json"), (*base, "--format", "csv", "--output", csv_file),
         (*base, "--format", "xlsx", "--output", xlsx_file)], ingested.env, ingested.cwd)
    for result in (as_json, as_csv, as_xlsx):
        assert result.returncode == 0, result.explain()
    rows: list[dict[str, Any]] = as_json.json()

    data = csv_file.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(table) == len(rows)
    assert list(table[0]) == list(COLUMNS)
    assert {r["registration_number"]: r["denominazione"] for r in table} == {
        r["registration_number"]: r["denominazione"] or "" for r in rows}

    wb = load_workbook(xlsx_file)
    # Excel refuses sheet names over 31 characters: a short name in whole words.
    expected_titles = ["Tutti gli aderenti", *SHEET_NAMES.values(), "Riepilogo"]
    assert all(len(title) <= 31 for title in expected_titles)
    assert wb.sheetnames == expected_titles
    summary = wb["Riepilogo"]
    summary_text = " ".join(str(c) for row in summary.iter_rows(values_only=True) for c in row
                            if c is not None)
    assert str(len(rows)) in summary_text
    heading = [HEADINGS[c] for c in COLUMNS]
    members = {"Tutti gli aderenti": {r["registration_number"] for r in rows}}
    for code in TAVOLO_NAMES:
        members[SHEET_NAMES[code]] = {r["registration_number"] for r in rows
                              if code in r["tavoli"].split(";")}
    received = {r["registration_number"]: datetime.fromisoformat(r["received_at"])
                for r in rows}
    for ws in wb.worksheets[:-1]:
        values = list(ws.iter_rows(values_only=True))
        assert list(values[0]) == heading
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.auto_filter.ref.endswith(str(len(values)))
        assert {v[0] for v in values[1:]} == members[ws.title]
        for v in values[1:]:
            when = v[COLUMNS.index("received_at")]
            assert isinstance(when, datetime)
            assert when == received[str(v[0])].replace(tzinfo=None)  # local (Rome) time


@pytest.mark.parametrize("command", [("adherents",), ("ingest", "message.eml"),
                                     ("stats",)], ids=["adherents", "ingest", "stats"])
def test_unmigrated_database_is_refused(database_url: str, tmp_path: Path,
                                        command: tuple[str, ...]) -> None:
    (tmp_path / "message.eml").write_bytes(sample_mailbox_cached()[1].raw)
    config = write_config(tmp_path, database_url)
    result = run(("--config", config, *command), clean_env(tmp_path), tmp_path)
    assert result.returncode not in (0, EX_CONFIG), result.explain()
    assert "pec-ingest db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "archive").exists()  # refused before touching anything


# --------------------------------------------------------------------------------------------
# configuration errors


def test_config_errors_are_all_listed_with_exit_78(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[state]\ndir = "state"\ncolour = "blu"\n\n'
        '[databse]\nurl = "sqlite:///x.db"\n\n'
        '[parser]\ntimeout_seconds = "trenta"\n\n'
        '[procedure]\ntimezone = "Europe/Milano"\n', encoding="utf-8")
    env = clean_env(tmp_path)
    jobs = [start(("--config", config, "stats"), env, tmp_path),
            start(("stats",), {**env, "PEC_INGEST_CONFIG": str(config)}, tmp_path)]
    by_option, by_env = map(finish, jobs)
    for result in (by_option, by_env):
        assert result.returncode == EX_CONFIG, result.explain()
        problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
        assert len(problems) == 4, result.stderr
        for needle in ("colour", "databse", "timeout_seconds", "Europe/Milano"):
            assert sum(needle in p for p in problems) == 1, (needle, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()


def test_missing_config_file_exits_78(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    absent = tmp_path / "absent.toml"
    jobs = [start(("--config", absent, "stats"), env, tmp_path),
            start(("stats",), {**env, "PEC_INGEST_CONFIG": str(absent)}, tmp_path)]
    by_option, by_env = map(finish, jobs)
    for result in (by_option, by_env):
        assert result.returncode == EX_CONFIG, result.explain()
        assert "absent.toml" in result.stderr
        assert "Traceback" not in result.stderr
