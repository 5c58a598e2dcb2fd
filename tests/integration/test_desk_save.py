"""``review show --save`` with hostile attachment names, a missing folder, and an archive in
another state directory; terminal output with control characters in a field."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pec_ingest.cli import main
from pec_ingest.desk.attachments import NAME_BYTES, safe_name
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.pec import build_envelope, build_original
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401

NAMES = ["A" * 300 + ".pdf", "CON.pdf", "lpt1", "fattura\u202efdp.exe", "..\\..\\boot.ini",
         "x" * 120 + "\u00e0" * 100 + ".docx"]


def test_safe_names() -> None:
    assert safe_name("CON.pdf", "f") == "_CON.pdf" and safe_name("lpt1", "f") == "_lpt1"
    assert safe_name("fattura\u202efdp.exe", "f") == "fatturafdp.exe"
    assert safe_name("..\\..\\boot.ini", "f") == "boot.ini"
    for name in NAMES:
        cleaned = safe_name(name, "f")
        assert len(cleaned.encode("utf-8")) <= NAME_BYTES
        assert name.endswith(".pdf") <= cleaned.endswith(".pdf")
    assert safe_name("...", "allegato-1") == "allegato-1"


def _hostile(pipeline: Pipeline) -> str:
    when = datetime(2019, 9, 5, 10, 0, tzinfo=UTC)
    original = build_original(
        sender="ente@pec.example.it", to=["comune@pec.example.it"],
        subject="Allegato 1 \x1b]0;titolo\x07", date=when, message_id="<h@pec.example.it>",
        attachments=[(n, f"contenuto {i}".encode(), "application/octet-stream")
                     for i, n in enumerate(NAMES)], name_encoding="rfc2231")
    raw = build_envelope(original, mittente="ente@pec.example.it",
                         destinatari=["comune@pec.example.it"], identificativo="opec.h@x",
                         data=when)
    outcome = pipeline.ingest(raw, Source("file", path="hostile.eml"))
    assert outcome.message_id is not None
    return f"M{outcome.message_id}"


def test_save_every_attachment_under_a_safe_name(desk: Desk, pipeline: Pipeline, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ident = _hostile(pipeline)
    folder = tmp_path / "salvati"
    old = os.umask(0)
    try:
        code = main(["--config", str(desk.config_file), "review", "show", ident,
                     "--save", str(folder)])
    finally:
        os.umask(old)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "\x1b" not in out.out and "\\x1b" in out.out  # the subject's escape is shown inert
    saved = sorted(p.name for p in folder.iterdir())
    assert len(saved) == len(NAMES)
    assert all(len(n.encode()) <= NAME_BYTES and "\u202e" not in n for n in saved)
    assert "_CON.pdf" in saved and "boot.ini" in saved
    assert all((folder / n).stat().st_mode & 0o777 == 0o640 for n in saved)


def test_archive_elsewhere_is_not_called_purged(desk: Desk, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "altro.toml"
    url = desk.config.database_url
    other.write_text(f'[state]\ndir = "{tmp_path / "altro-stato"}"\n[database]\nurl = "{url}"\n',
                     encoding="utf-8")
    number = desk.number("b-pdf")
    for argv in (["review", "show", number, "--save", str(tmp_path / "s")],
                 ["reprocess", number]):
        assert main(["--config", str(other), *argv]) == 1
        err = capsys.readouterr().err
        assert "non è nell'archivio" in err and "cancellato" not in err
        assert "Traceback" not in err


def test_missing_output_folder_for_save(desk: Desk, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["--config", str(desk.config_file), "review", "show", desk.number("b-pdf"),
                 "--save", str(blocker / "sotto")])
    assert code == 1
    assert "impossibile creare la cartella" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _pg_once(database_url: str) -> None:
    """These do not depend on the database: SQLite is enough (the desk fixture runs both)."""
    if database_url.startswith("postgresql"):
        pytest.skip("indipendente dal database")
