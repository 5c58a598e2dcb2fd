"""Configuration: the example documents every key, errors are all reported, secrets hidden."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pec_ingest.config import SECTIONS, Config, load_config, parse_config
from pec_ingest.errors import ConfigError
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.settings_smtp import MeetingSection

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.procedure.code == "PDZ2019"
    assert [b.name for b in config.mailboxes] == ["protocollo"]
    assert len(config.acknowledgements.meetings) == 2


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.MULTILINE))
    documented |= set(re.findall(r"^#?\s*\[\[?(?:[a-z_]+\.)*([a-z_]+)\]", text, flags=re.MULTILINE))
    classes = [*SECTIONS.values(), MailboxSection, MeetingSection]
    missing = {f"{cls.__name__}.{f.name}" for cls in classes for f in dataclasses.fields(cls)
               if f.name not in documented}
    assert missing == set()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({
            "databse": {"url": ""},
            "procedure": {"deadline": "9 settembre", "timezone": "Europe/Roma"},
            "parser": {"timeout_seconds": "30"},
            "mailboxes": [{"name": "a", "host": "imap.example.it", "security": "plain",
                           "username": "u", "colour": "blue"}],
        })
    text = str(err.value)
    for fragment in ("[databse]: sezione sconosciuta", "procedure.deadline",
                     "parser.timeout_seconds", "mailboxes[0].colour: chiave sconosciuta",
                     "'plain'"):
        assert fragment in text, fragment
    assert len(err.value.problems) >= 5


def test_bare_deadline_means_end_of_day_in_rome() -> None:
    config = parse_config({"procedure": {"deadline": datetime(2019, 9, 9).date()}})
    assert config.deadline == datetime(2019, 9, 9, 21, 59, 59, 999999, tzinfo=UTC)


def test_archive_sync_mode_is_checked() -> None:
    assert parse_config({}).state.archive_sync == "auto"
    assert parse_config({"state": {"archive_sync": "fsync"}}).state.archive_sync == "fsync"
    with pytest.raises(ConfigError, match=r"state.archive_sync: 'fsynch' non previsto "
                                          r"\(ammessi: auto, syncfs, fsync\)"):
        parse_config({"state": {"archive_sync": "fsynch"}})


def test_batch_wait_is_checked() -> None:
    box = {"name": "a", "host": "imap.example.it", "username": "u"}
    assert parse_config({"mailboxes": [box]}).mailboxes[0].batch_wait_ms == 2000
    assert parse_config({"mailboxes": [{**box, "batch_wait_ms": 100}]}).mailboxes[0] \
        .batch_wait_ms == 100
    for wrong in (0, 99, 600_001):
        with pytest.raises(ConfigError, match=r"mailboxes\[a\]\.batch_wait_ms: tra 100 e 600000"):
            parse_config({"mailboxes": [{**box, "batch_wait_ms": wrong}]})
    with pytest.raises(ConfigError, match=r"mailboxes\[0\]\.batch_wait_ms"):
        parse_config({"mailboxes": [{**box, "batch_wait_ms": "1000"}]})


def test_closing_before_deadline_is_refused() -> None:
    with pytest.raises(ConfigError, match="closing"):
        parse_config({"procedure": {"closing": datetime(2019, 9, 1).date()}})


def test_database_url_override_and_default(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    config = dataclasses.replace(Config(), state=dataclasses.replace(Config().state,
                                                                     dir=tmp_path))
    monkeypatch.delenv("PEC_INGEST_DATABASE_URL", raising=False)
    assert config.database_url == f"sqlite:///{tmp_path / 'pec-ingest.db'}"
    monkeypatch.setenv("PEC_INGEST_DATABASE_URL", "postgresql+psycopg2://x@db/y")
    assert config.database_url == "postgresql+psycopg2://x@db/y"


def test_config_from_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[procedure]\ncode = "PDZ2024"\n', encoding="utf-8")
    monkeypatch.setenv("PEC_INGEST_CONFIG", str(path))
    assert load_config(None).procedure.code == "PDZ2024"


def test_secrets_come_from_file_env_or_credentials_and_never_show(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret-file\n", encoding="utf-8")
    box = MailboxSection(name="p", host="h", username="u", password_file=str(secret_file))
    assert box.secret.value() == "s3cret-file"
    assert "s3cret" not in repr(box) and str(secret_file) not in repr(box)
    monkeypatch.setenv("IMAP_PW", "s3cret-env")
    assert MailboxSection(name="p", password_env="IMAP_PW").secret.value() == "s3cret-env"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "imap-password-p").write_text("s3cret-cred", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert MailboxSection(name="p").secret.value() == "s3cret-cred"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="password mancante"):
        MailboxSection(name="p").secret.value()


def test_acknowledgement_transport_auto() -> None:
    assert parse_config({}).acknowledgements.transport == "file"
    smtp = {"host": "smtps.pec.example.it", "from_address": "comune@pec.example.it"}
    assert parse_config({"smtp": smtp}).acknowledgements.transport == "smtp"
    with pytest.raises(ConfigError, match="smtp"):
        parse_config({"acknowledgements": {"transport": "smtp"}})


def test_vocabulary_from_the_config_reaches_the_extractor() -> None:
    from parsers.allegato import extract
    from parsers.content import FormContent

    lines = ("Denominazione: Circolo Futura APS", "Codice fiscale: 96923220535",
             "Legale rappresentante: Andrea Cattaneo",
             "Incaricato ai lavori dei tavoli: Ugo Foscolo", "E-mail: info@futura.it",
             "☒ Area Promozione del benessere familiare")
    content = FormContent(format="docx", lines=lines, text_chars=200)
    assert extract(content).fields["referente"] is None
    config = parse_config({"vocabulary": {"labels": {
        "referente": ["Incaricato ai lavori dei tavoli"]}}})
    assert extract(content, config.vocabulary).fields["referente"] == "Ugo Foscolo"
    with pytest.raises(ConfigError, match="vocabulary"):
        parse_config({"vocabulary": {"labels": {"referent": ["x"]}}})


def test_trust_bundle_is_checked_when_the_configuration_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "gestori.pem"
    bad.write_text("non è un certificato", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"trust\.ca_file: .* certificati PEM"):
        parse_config({"trust": {"ca_file": str(bad)}})
    with pytest.raises(ConfigError, match="file non trovato"):
        parse_config({"trust": {"ca_file": str(tmp_path / "assente.pem")}})
    assert parse_config({"trust": {"ca_file": ""}}).trust.ca_file == ""
