"""``check-config`` and configuration loading as an operator meets them: every problem at once,
in Italian, with the exit code the README gives (78), never a traceback; ``--connect`` tries the
SMTP login against a real aiosmtpd; ``--credentials`` reads the unit's passwords from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pec_ingest.cli import EX_CONFIG, main
from tests.integration.desk_support import keep_logging  # noqa: F401
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer


def check(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, str]:
    code = main(["--config", str(config), "check-config", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_every_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = tmp_path / "modelli"
    templates.mkdir()
    (templates / "ack.txt.j2").write_text("Gentile {{ ente \n{% if %}", encoding="utf-8")
    empty = tmp_path / "vuota"
    empty.write_text("\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[procedure]\ndeadline = "30 settembre"\n'
        f'[acknowledgements]\ntemplates_dir = "{templates}"\n'
        f'[[acknowledgements.meetings]]\ntitle = "Plenaria"\nwhen = "11/09/2019 17:00"\n'
        f'[[mailboxes]]\nname = "a"\nhost = "127.0.0.1"\nusername = "u"\n'
        f'password_file = "{tmp_path / "manca"}"\n'
        f'[[mailboxes]]\nname = "b"\nhost = "127.0.0.1"\nusername = "u"\n'
        f'password_file = "{empty}"\n', encoding="utf-8")
    code, text = check(capsys, config)
    assert code == EX_CONFIG
    assert "procedure.deadline" in text and '"30 settembre"' in text
    assert "acknowledgements.meetings[0].when" in text and '"11/09/2019 17:00"' in text
    assert "manca" in text and "impossibile leggere" in text  # missing file, with the rest
    assert "è vuoto" in text
    assert "ack.txt.j2" in text and "riga" in text
    assert "Traceback" not in text and "datetime." not in text


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf[procedure]\ncode = \"PDZ\"\n",
                                     b"[procedure]\ncode = \"Comunit\xe0\"\n",
                                     "[procedure]\ncode = \"X\"\n".encode("utf-16")],
                         ids=["bom", "latin1", "utf16"])
def test_encodings(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    code, text = check(capsys, config)
    if content.startswith(b"\xef\xbb\xbf"):
        assert code == 0, text  # a BOM is accepted
    else:
        assert code == EX_CONFIG and "UTF-8" in text and "Traceback" not in text


def test_bad_database_url_is_a_configuration_error(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[database]\nurl = "postgres//senza-due-punti"\n', encoding="utf-8")
    assert main(["--config", str(config), "stats"]) == EX_CONFIG
    assert "URL non valido" in capsys.readouterr().err


def test_connect_tries_the_smtp_login_with_credentials_folder(
        tmp_path: Path, smtp: SmtpServer, capsys: pytest.CaptureFixture[str]) -> None:
    creds = tmp_path / "etc"
    creds.mkdir()
    (creds / "smtp-password").write_text("sbagliata\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[state]\ndir = "{tmp_path / "state"}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.tls.port}\nsecurity = "tls"\n'
        f'username = "{USERNAME}"\nfrom_address = "{USERNAME}"\nca_file = "{smtp.ca_file}"\n'
        'password_file = "/run/credentials/pec-ingest.service/smtp-password"\n'
        'timeout_seconds = 5\n', encoding="utf-8")
    code, text = check(capsys, config)
    assert code == EX_CONFIG and "/run/credentials/" in text  # not readable outside the unit
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    code, text = check(capsys, config, "--connect", "--credentials", str(creds))
    assert code == 1 and "smtp 127.0.0.1: ERRORE" in text and "accesso rifiutato" in text
    assert "sbagliata" not in text
    (creds / "smtp-password").write_text(PASSWORD + "\n", encoding="utf-8")
    code, text = check(capsys, config, "--connect", "--credentials", str(creds))
    assert code == 0, text
    assert "smtp 127.0.0.1: login riuscito" in text
