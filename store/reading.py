"""How each value of a submission was obtained, and the OCR text of a scanned form.

``submission_readings`` holds, per submission, the provenance of every value (``text_layer``,
``ocr_proved``, ``ocr_suggestion``, ``certificate``, ``earlier_version``, ``certified_sender``,
``message``, ``staff``) with, for OCR, the confidence, the page, the box and a small crop, and
the whole OCR text (searchable by staff with :func:`search_ocr_text`). Registered on
``Base.metadata`` by ``store.model`` (imported at its end).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from store.base import Base

if TYPE_CHECKING:
    from store.model import Submission


class SubmissionReading(Base):
    """One per submission: where its values came from; the OCR text when it was a scan."""

    __tablename__ = "submission_readings"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ocr_text: Mapped[str | None] = mapped_column(Text)
    ocr_pages: Mapped[int | None] = mapped_column(Integer)
    ocr_seconds: Mapped[float | None] = mapped_column(Float)
    submission: Mapped[Submission] = relationship()


def save_reading(session: Session, submission_id: int, provenance: Mapping[str, Any],
                 ocr: Mapping[str, Any] | None = None) -> SubmissionReading:
    """Record (or replace) the provenance and OCR text of a submission; flushes."""
    row = session.get(SubmissionReading, submission_id)
    if row is None:
        row = SubmissionReading(submission_id=submission_id)
        session.add(row)
    _fill(row, provenance, ocr)
    session.flush()
    return row


def add_reading(session: Session, submission: Submission, provenance: Mapping[str, Any],
                ocr: Mapping[str, Any] | None = None) -> SubmissionReading:
    """The reading of a submission recorded in this transaction (it has none yet), written
    with it by the next flush."""
    row = SubmissionReading(submission=submission)
    _fill(row, provenance, ocr)
    session.add(row)
    return row


def reading_values(provenance: Mapping[str, Any],
                   ocr: Mapping[str, Any] | None) -> dict[str, Any]:
    """The columns of a reading (but its submission_id), as :func:`add_reading` writes them."""
    return {"provenance": dict(provenance), "ocr_text": (ocr or {}).get("text"),
            "ocr_pages": (ocr or {}).get("pages"), "ocr_seconds": (ocr or {}).get("seconds")}


def _fill(row: SubmissionReading, provenance: Mapping[str, Any],
          ocr: Mapping[str, Any] | None) -> None:
    for key, value in reading_values(provenance, ocr).items():
        setattr(row, key, value)


def reading_of(session: Session, submission_id: int) -> SubmissionReading | None:
    return session.get(SubmissionReading, submission_id)


def search_ocr_text(session: Session, words: str) -> list[int]:
    """Ids of the submissions whose OCR text contains ``words`` (case ignored)."""
    pattern = f"%{words.lower()}%"
    return list(session.scalars(
        select(SubmissionReading.submission_id)
        .where(func.lower(SubmissionReading.ocr_text).like(pattern))
        .order_by(SubmissionReading.submission_id)))


def earlier_fields(session: Session, sender: str | None,
                   exclude: int | None = None) -> dict[str, str | None] | None:
    """The codes and addresses of the latest submission (other than ``exclude``) of the ONE
    organisation that sent from this certified address, or None (none, or several bodies)."""
    from store.model import Message, Submission  # store.model imports this module at its end

    key = (sender or "").strip().lower()
    if not key:
        return None
    rows = session.execute(
        select(Submission).join(Message, Submission.message_id == Message.id)
        .where(func.lower(Message.sender) == key, Submission.id != (exclude or 0),
               Message.legal_time.is_not(None))  # certified versions only
    ).scalars().all()
    if len({s.organisation_id for s in rows}) != 1:
        return None
    latest = max(rows, key=lambda s: s.version)
    return {"codice_fiscale": latest.codice_fiscale, "partita_iva": latest.partita_iva,
            "pec": latest.pec, "email": latest.email}


def scrub_readings(session: Session, submission_ids: list[int],
                   personal: tuple[str, ...]) -> None:
    """Retention: drop the OCR text (it holds every name on the paper) and the values and
    crops of the ``personal`` fields; the sources stay, so the counts stay explainable."""
    if not submission_ids:
        return
    rows = session.scalars(select(SubmissionReading).where(
        SubmissionReading.submission_id.in_(submission_ids))).all()
    for row in rows:
        row.ocr_text = None
        row.provenance = {k: ({"source": v.get("source")} if k in personal else v)
                          for k, v in row.provenance.items()}
