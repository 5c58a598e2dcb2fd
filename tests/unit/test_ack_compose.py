"""What an acknowledgement says: each variant, the meetings still ahead, headers, overrides."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest

from pec_ingest.ack.compose import build, variant
from pec_ingest.ack.templates import TemplateProblem
from pec_ingest.config import Config
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from store.model import Acknowledgement, Message, Submission, SubmissionTavolo

ROME = timezone(timedelta(hours=2))
FROM = "comune.cernuscosulnaviglio@pec.regione.lombardia.it"
TO = "cooperativa@pec.esempio.it"
NOW = datetime(2019, 9, 3, 8, 20, tzinfo=UTC)
FIELDS: dict[str, Any] = {
    "denominazione": "Cooperativa Sociale «Il Girasole» <Onlus> & C.",
    "natura_giuridica": "coop_sociale", "codice_fiscale": "01234567890", "partita_iva": None,
    "sede_legale": "Via Roma 1, 20063 Cernusco sul Naviglio (MI)",
    "comune": "Cernusco sul Naviglio", "legale_rappresentante": "Maria Rossi",
    "referente": "Luca Bianchi", "email": "info@girasole.example", "pec": TO,
    "telefono": "02 1234567",
}


def make_config(tmp_path: Path, templates_dir: str = "") -> Config:
    return dataclasses.replace(
        Config(), smtp=SmtpSection(host="127.0.0.1", security="plain", from_address=FROM),
        acknowledgements=AcknowledgementSection(transport="smtp", templates_dir=templates_dir))


def make_ack(received: datetime, *, status: str = "complete", late: bool = False,
             tavoli: tuple[tuple[str, int | None], ...] = (("poverta", 1), ("famiglia", 2)),
             **fields: Any) -> Acknowledgement:
    message = Message(message_id_header="<opec.42@pec.aruba.it>",
                      identificativo="opec.42@pec.aruba.it",
                      riferimento_message_id="<orig.42@pec.esempio.it>", sender=TO)
    sub = Submission(registration_number="PDZ2019-0042", procedure="PDZ2019", version=1,
                     received_at=received, late=late, out_of_procedure=False, status=status,
                     parser_warnings=[], message=message, **{**FIELDS, **fields})
    sub.tavoli = [SubmissionTavolo(code=c, rank=r) for c, r in tavoli]
    return Acknowledgement(submission=sub, message_id="<ack.PDZ2019-0042.abc@pec.regione"
                                                      ".lombardia.it>", to_address=TO)


def parsed(msg: EmailMessage) -> tuple[EmailMessage, str, str]:
    again = cast(EmailMessage, message_from_bytes(msg.as_bytes(), policy=policy.default))
    text = again.get_body(("plain",))
    html = again.get_body(("html",))
    assert text is not None and html is not None
    return again, cast(EmailMessage, text).get_content(), cast(EmailMessage, html).get_content()


def test_complete_acknowledgement(tmp_path: Path) -> None:
    ack = make_ack(datetime(2019, 9, 3, 10, 15, tzinfo=ROME))
    assert variant(ack.submission) == "complete"
    msg, text, html = parsed(build(make_config(tmp_path), ack, NOW))
    assert "PDZ2019-0042" in msg["Subject"] and "completare" not in msg["Subject"]
    assert "il 03/09/2019 alle 10:15" in text
    assert "Codice fiscale: 01234567890" in text and "Cooperativa sociale" in text
    assert "Legale rappresentante: Maria Rossi" in text
    assert text.index("Area Contrasto alla povertà (preferenza 1)") < \
        text.index("Area Promozione del benessere familiare (preferenza 2)")
    assert "Incontro plenario: mercoledì 11 settembre 2019 alle ore 17:00, La Filanda" in text
    assert "mercoledì 2 ottobre 2019 alle ore 16:00, sedi da comunicare" in text
    assert "pianodizona@comune.cernuscosulnaviglio.mi.it" in text and "02 9278 434" in text
    assert "DATI DA COMPLETARE" not in text and "dopo la scadenza" not in text
    assert "Area Contrasto alla povertà" in html and "La Filanda" in html


def test_headers(tmp_path: Path) -> None:
    msg, _, _ = parsed(build(make_config(tmp_path), make_ack(NOW), NOW))
    assert msg["From"].addresses[0].addr_spec == FROM
    assert msg["To"] == TO
    assert msg["Message-ID"] == "<ack.PDZ2019-0042.abc@pec.regione.lombardia.it>"
    assert msg["In-Reply-To"] == "<opec.42@pec.aruba.it>"
    assert msg["References"] == "<orig.42@pec.esempio.it> <opec.42@pec.aruba.it>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0" and msg["Date"] is not None
    assert msg.get_content_type() == "multipart/alternative"
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())


def test_html_is_escaped_and_text_is_not(tmp_path: Path) -> None:
    _, text, html = parsed(build(make_config(tmp_path), make_ack(NOW), NOW))
    assert "«Il Girasole» <Onlus> & C." in text
    assert "&lt;Onlus&gt; &amp; C." in html and "<Onlus>" not in html


def test_incomplete_says_what_is_missing_and_how_to_fix_it(tmp_path: Path) -> None:
    ack = make_ack(datetime(2019, 9, 4, 9, 0, tzinfo=ROME), status="incomplete",
                   tavoli=(), codice_fiscale=None)
    assert variant(ack.submission) == "incomplete"
    msg, text, html = parsed(build(make_config(tmp_path), ack, NOW))
    assert "dati da completare" in msg["Subject"]
    missing = text[text.index("DATI DA COMPLETARE"):]
    assert "codice fiscale dell'ente" in missing and "almeno un Tavolo d'area" in missing
    assert "nuova PEC a comune.cernuscosulnaviglio@pec.regione.lombardia.it" in missing
    assert "La procedura\nresta aperta" in text or "La procedura resta aperta" in text
    assert "Codice fiscale: non indicato" in text
    assert "almeno un Tavolo d&#39;area" in html or "almeno un Tavolo d'area" in html


def test_late_after_the_plenary_mentions_only_the_tables_meeting(tmp_path: Path) -> None:
    ack = make_ack(datetime(2019, 9, 20, 16, 5, tzinfo=ROME), late=True)
    assert variant(ack.submission) == "late"
    _, text, html = parsed(build(make_config(tmp_path), ack, NOW))
    assert "dopo la scadenza di lunedì 9 settembre 2019" in text
    assert "resta aperta per tutta la durata del percorso" in text
    assert "Incontro plenario" not in text and "La Filanda" not in html
    assert "Incontro congiunto dei tre Tavoli d'area: mercoledì 2 ottobre 2019" in text


def test_after_every_meeting_no_meetings_are_listed(tmp_path: Path) -> None:
    ack = make_ack(datetime(2019, 10, 2, 16, 30, tzinfo=ROME), late=True)
    _, text, _ = parsed(build(make_config(tmp_path), ack, NOW))
    assert "PROSSIMI INCONTRI" not in text and "ottobre" not in text


def test_unreadable_says_the_office_will_check(tmp_path: Path) -> None:
    blank: dict[str, Any] = dict.fromkeys(FIELDS)
    ack = make_ack(datetime(2019, 9, 5, 11, 0, tzinfo=ROME), status="needs_review",
                   tavoli=(), **blank)
    assert variant(ack.submission) == "unreadable"
    msg, text, _ = parsed(build(make_config(tmp_path), ack, NOW))
    assert "in verifica" in msg["Subject"]
    assert "Gentile ente" in text and "non è stato possibile leggere" in text
    assert "L'Ufficio di Piano verificherà" in text and "DATI REGISTRATI" not in text
    assert "Incontro plenario" in text


def test_declared_pec_differs_reply_goes_to_certified_sender(tmp_path: Path) -> None:
    ack = make_ack(NOW, pec="altro@pec.esempio.it")
    msg, text, _ = parsed(build(make_config(tmp_path), ack, NOW))
    assert msg["To"] == TO
    assert "(altro@pec.esempio.it) è diversa" in text


def test_staff_override_one_template_keep_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "modelli"
    folder.mkdir()
    (folder / "ack_subject.txt.j2").write_text("Adesione {{ registration_number }} registrata",
                                               encoding="utf-8")
    msg, text, _ = parsed(build(make_config(tmp_path, str(folder)), make_ack(NOW), NOW))
    assert msg["Subject"] == "Adesione PDZ2019-0042 registrata"
    assert "DATI REGISTRATI" in text  # the default body


def test_a_typo_in_an_override_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "modelli"
    folder.mkdir()
    (folder / "ack.txt.j2").write_text("Numero {{ registation_number }}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="registation_number"):
        build(make_config(tmp_path, str(folder)), make_ack(NOW), NOW)
