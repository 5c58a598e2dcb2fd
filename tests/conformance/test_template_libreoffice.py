"""The office's blank DOCX filled in and exported to PDF by a real LibreOffice (as applicants
do with Word): the PDF is read against the blank DOCX, slot by slot. Needs ``soffice``."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from parsers.allegato import extract
from parsers.docx_form import read_docx
from parsers.pdf_form import read_pdf
from parsers.vocabulary import DEFAULT_VOCABULARY, FIELD_NAMES
from pec_ingest.samples.template_forms import SIGNER_MAPPING, template_docx
from pec_ingest.samples.variants import make_applicant
from pec_ingest.scoring import field_equal

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_word_exports_of_the_filled_blank_are_read_by_the_template(tmp_path: Path) -> None:
    if SOFFICE is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice (soffice) richiesto in CI: scripts/ensure-servers.sh")
        pytest.skip("LibreOffice (soffice) non installato")
    apps = [make_applicant(random.Random(f"template-lo-{i}")) for i in range(4)]
    for number, app in enumerate(apps):
        (tmp_path / f"f{number}.docx").write_bytes(template_docx(app))
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    *(str(tmp_path / f"f{n}.docx") for n in range(len(apps)))],
                   check=True, capture_output=True, timeout=300)
    vocabulary = DEFAULT_VOCABULARY.with_templates(
        [("allegato1.docx", read_docx(template_docx()).lines)], SIGNER_MAPPING)
    for number, app in enumerate(apps):
        result = extract(read_pdf((tmp_path / f"f{number}.pdf").read_bytes()), vocabulary)
        assert any("letto con il modello dell'ufficio" in w for w in result.warnings)
        for name in FIELD_NAMES:
            want, got = app.values[name], result.fields[name]
            assert (got is None and want is None) or (
                got is not None and want is not None and field_equal(name, got, want)), \
                f"{name}: {got!r} != {want!r}"
