"""``pec-ingest template check`` and ``parse`` with ``[procedure] template``, as processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from pec_ingest.samples.template_forms import template_docx, template_pdf
from pec_ingest.samples.variants import make_applicant


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pec_ingest", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_template_check_prints_the_mapping_and_what_it_could_not_map(tmp_path: Path) -> None:
    blank = tmp_path / "allegato1.docx"
    blank.write_bytes(template_docx())
    done = cli("template", "check", str(blank))
    assert done.returncode == 0, done.stderr
    assert "«Nome dell'ente» -> denominazione" in done.stdout
    unmapped = done.stdout.split("non riconosciuti")[1]
    assert "«Abbreviazione»" in unmapped and "[[procedure.template_labels]]" in unmapped
    assert cli("template", "check", str(tmp_path / "manca.docx")).returncode == 2


def test_parse_reads_a_submission_against_the_configured_blank(tmp_path: Path) -> None:
    (tmp_path / "allegato1.docx").write_bytes(template_docx())
    config = tmp_path / "config.toml"
    config.write_text('[procedure]\ntemplate = ["allegato1.docx"]\n'
                      '[[procedure.template_labels]]\n'
                      'label = "Il/La sottoscritto/a (cognome e nome)"\n'
                      'field = "legale_rappresentante"\n', encoding="utf-8")
    app = make_applicant(random.Random("cli-template"))
    form = tmp_path / "domanda.pdf"
    form.write_bytes(template_pdf(app))
    done = cli("--config", str(config), "parse", "--json", str(form))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["fields"]["codice_fiscale"] == app.values["codice_fiscale"]
    assert doc["fields"]["legale_rappresentante"] == app.values["legale_rappresentante"]
    assert any("modello dell'ufficio" in w for w in doc["warnings"])
    bad = tmp_path / "bad.toml"
    bad.write_text('[procedure]\ntemplate = ["manca.docx"]\n', encoding="utf-8")
    assert cli("--config", str(bad), "parse", str(form)).returncode == 78
