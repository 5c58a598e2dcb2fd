"""The form reader on ~360 real PDF and DOCX files nobody here wrote (../shared/corpus/realdocs:
the test files of pdfminer.six, pdfplumber, pypdf, qpdf, python-docx, docx4j, mammoth).

Every file either reads (any status) or is refused with a one-line Italian reason that names no
Python exception; nothing crashes (an internal error would be ``parser_failed``), nothing runs
past the parser's time limit; and every PDF that poppler's ``pdftotext`` reads is read.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from parsers.cades import unwrap
from parsers.form import parse_form
from parsers.limits import DEFAULT_LIMITS
from parsers.pdf_form import read_pdf
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.config import ParserSection
from pec_ingest.isolation import IsolatedResult, ParseTask, parse_one

REALDOCS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "realdocs"
FILES = sorted(p for p in REALDOCS.glob("*/*") if p.suffix in (".pdf", ".docx"))
TIME_LIMIT = ParserSection().timeout_seconds
# "IndexError", "PSSyntaxError", "Traceback", "object has no attribute": a bug or a library's
# words, not a reason for staff
_PYTHON_WORDS = re.compile(r"[A-Za-z]*(Error|Exception|Warning)\b|Traceback|attribute|"
                           r"index out of range|NoneType")

pytestmark = [
    pytest.mark.skipif(not FILES, reason=f"corpus not present at {REALDOCS}"),
    pytest.mark.slow,
]


class _Hang(BaseException):
    """Raised by the alarm: BaseException, so that no handler in the reader can swallow it."""


@contextmanager
def _no_hang(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: FrameType | None) -> None:
        raise _Hang(f"still reading after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _read(path: Path) -> IsolatedResult:
    started = time.monotonic()
    with _no_hang(TIME_LIMIT * 2):  # twice the limit: room for a busy shared machine
        result = parse_one(ParseTask(path.read_bytes(), path.name), DEFAULT_VOCABULARY,
                           DEFAULT_LIMITS)
    assert time.monotonic() - started < TIME_LIMIT * 2
    return result


def _pdftotext() -> str | None:
    """poppler's pdftotext (poppler-utils; the test command installs it as root); missing
    under CI=true is a failure, not a skip."""
    found = shutil.which("pdftotext")
    if found is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail("pdftotext (poppler-utils) richiesto in CI")
    return found


def _pdftotext_reads(path: Path) -> bool:
    """poppler reads some text from the pages our reader would read."""
    command = [_pdftotext() or "pdftotext", "-q", "-l", str(DEFAULT_LIMITS.max_pages),
               str(path), "-"]
    proc = subprocess.run(command, capture_output=True, timeout=120, check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_real_document_reads_or_is_refused_in_plain_italian(path: Path) -> None:
    result = _read(path)
    assert result.outcome in ("parsed", "unreadable"), (result.outcome, result.error, result.trace)
    if result.outcome == "parsed":
        assert result.result is not None and result.result["status"] in (
            "complete", "incomplete", "needs_review")
        return
    reason = result.error or ""
    assert reason and "\n" not in reason and len(reason) < 300, reason
    assert not _PYTHON_WORDS.search(reason), reason
    if path.suffix == ".pdf" and _pdftotext():
        assert not _pdftotext_reads(path), f"pdftotext reads it, we refused: {reason}"


def test_the_comparison_with_pdftotext_can_fail() -> None:
    if _pdftotext() is None:
        pytest.skip("pdftotext (poppler-utils) non installato")
    readable = next(p for p in FILES if p.name == "pdfplumber__word365_structure.pdf")
    protected = next(p for p in FILES if p.name == "pypdf__encrypted-file.pdf")
    assert _pdftotext_reads(readable)
    assert not _pdftotext_reads(protected)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w{4,}", text.lower()))


def test_a_word_365_export_reads_its_table_rows_as_label_and_values() -> None:
    path = REALDOCS / "pdf" / "pdfplumber__word365_structure.pdf"
    content = read_pdf(path.read_bytes())
    assert not content.fallback_pages and not content.is_scan
    assert "En-tête 1\tEn-tête 2\tEn-tête 3" in content.lines
    assert "Ligne 1\tAlouette\tFarfadet" in content.lines


SIGNED_PDFS = sorted((REALDOCS.parent / "p7m").glob("*.pdf.p7m"))


@pytest.mark.parametrize("path", SIGNED_PDFS, ids=[p.name for p in SIGNED_PDFS])
def test_a_real_signed_pdf_is_unwrapped_and_read(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    result = parse_form(data, path.name)
    assert result.document.format == "pdf" and result.signature is not None
    inner = unwrap(data).content
    content = read_pdf(inner)
    assert not content.is_scan and not content.fallback_pages
    if _pdftotext():
        pdf = tmp_path / "inner.pdf"
        pdf.write_bytes(inner)
        proc = subprocess.run([_pdftotext() or "pdftotext", "-q", str(pdf), "-"],
                              capture_output=True, timeout=120, check=True)
        theirs = _words(proc.stdout.decode("utf-8", "replace"))
        ours = _words(" ".join(content.lines))
        assert len(theirs & ours) >= 0.9 * len(theirs)


def test_a_real_signed_pdf_gives_its_contact_fields() -> None:
    result = parse_form((REALDOCS.parent / "p7m" / "parer_cades_bes.pdf.p7m").read_bytes())
    assert result.fields["email"] == "rzavattini@regione.emilia-romagna.it"
    assert result.fields["pec"] == "vipsa@postacert.regione.emilia-romagna.it"
