"""What ``review show`` prints about where the values came from, and the OCR text of a scan.

Proved values (text layer, OCR checked by the proof gate, certificate, earlier version,
certified sender) are told apart from OCR suggestions, which staff confirm with
``review set``; ``review show --save DIR`` also writes each suggestion's crop as a PNG.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from store.model import Submission
from store.reading import reading_of

SOURCE_NAMES = {
    "text_layer": "testo del documento", "ocr_proved": "OCR verificato",
    "ocr_suggestion": "PROPOSTA OCR da confermare", "certificate": "certificato del firmatario",
    "earlier_version": "versione precedente", "certified_sender": "mittente certificato",
    "message": "indirizzo del messaggio", "staff": "personale",
    "ocr_boxes": "caselle lette dall'immagine",
}
FILE_MODE = 0o640


def reading_lines(session: Session, submission: Submission) -> list[str]:
    """Provenance of each value and, for a scan, the OCR text."""
    reading = reading_of(session, submission.id)
    if reading is None or not reading.provenance:
        return []
    lines = ["", "Provenienza dei dati:"]
    for field, entry in reading.provenance.items():
        lines.append("  " + _entry_line(field, entry))
    suggested = [f for f, e in reading.provenance.items()
                 if e.get("source") == "ocr_suggestion" and f != "tavoli"]
    if suggested:
        lines.append(f"  Confermare una proposta: pec-ingest review set "
                     f"{submission.registration_number} CAMPO 'VALORE' (ritagli: --save CARTELLA)")
    if reading.ocr_text:
        lines += ["", f"Testo letto con OCR ({reading.ocr_pages or '?'} pagine, "
                      f"{reading.ocr_seconds or 0:.1f} s):"]
        lines += ["  | " + line for line in reading.ocr_text.splitlines()]
    return lines


def _entry_line(field: str, entry: dict[str, Any]) -> str:
    source = SOURCE_NAMES.get(entry.get("source", ""), entry.get("source", "?"))
    value = entry.get("value")
    if isinstance(value, list):
        value = ",".join(f"{t['code']}:{t['rank']}" if t.get("rank") else t["code"]
                         for t in value)
    text = f"{field:<22} {source}"
    if value:
        text += f": {value}"
    if entry.get("reason"):
        text += f" ({entry['reason']})"
    return text


def save_crops(session: Session, submission: Submission, folder: Path) -> list[Path]:
    """Write the crop of every OCR suggestion as ``ocr-<campo>.png``; the paths."""
    reading = reading_of(session, submission.id)
    if reading is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for field, entry in reading.provenance.items():
        crop = entry.get("crop_png_base64")
        if not crop:
            continue
        try:
            data = base64.b64decode(crop, validate=True)
        except binascii.Error:
            continue
        path = folder / f"ocr-{field}.png"
        if path.exists():
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        written.append(path)
    return written
