"""Review reasons: pure decisions over a parsed form and its envelope."""

from __future__ import annotations

from typing import Any

from parsers.envelope import parse_envelope
from pec_ingest.review import contradiction_reasons, form_reasons, same_name
from pec_ingest.samples.pec import build_envelope, build_original

FIELDS = dict.fromkeys(("denominazione", "natura_giuridica", "codice_fiscale", "partita_iva",
                        "sede_legale", "comune", "legale_rappresentante", "referente", "email",
                        "pec", "telefono"))


def form(**kw: Any) -> dict[str, Any]:
    fields = dict(FIELDS, denominazione="Circolo Futura APS", codice_fiscale="96923220535",
                  legale_rappresentante="Andrea Cattaneo", pec="futura@pec.it")
    fields.update(kw.pop("fields", {}))
    return {"fields": fields, "tavoli": [{"code": "famiglia", "rank": None}],
            "status": "complete", "warnings": [], "signature": None, **kw}


def envelope(sender: str) -> Any:
    from datetime import UTC, datetime

    when = datetime(2019, 9, 3, 8, 0, tzinfo=UTC)
    original = build_original(sender=sender, to=["c@pec.example"], subject="Allegato 1",
                              date=when, message_id="<x@y>")
    return parse_envelope(build_envelope(original, mittente=sender, destinatari=["c@pec.example"],
                                         identificativo="opec.1@pec.example", data=when))


def test_same_name_ignores_order_case_accents_and_middle_names() -> None:
    assert same_name("CATTANEO ANDREA", "Andrea Cattaneo")
    assert same_name("Niccolò Rossi", "ROSSI NICCOLO")
    assert same_name("Maria Grazia De Luca", "Maria De Luca")
    assert not same_name("Andrea Cattaneo", "Anna Cattaneo")
    assert not same_name("", "Anna Cattaneo")


def test_declared_pec_equal_to_sender_is_no_contradiction() -> None:
    assert contradiction_reasons(form(), envelope("FUTURA@pec.it")) == []


def test_declared_pec_different_from_sender_is_flagged_with_both_addresses() -> None:
    [reason] = contradiction_reasons(form(), envelope("altro@pec.it"))
    assert reason.code == "pec_mismatch"
    assert "futura@pec.it" in reason.detail and "altro@pec.it" in reason.detail


def test_signer_other_than_representative_is_flagged() -> None:
    signed = form(signature={"valid": True, "signers": [
        {"name": "Mario Rossi", "codice_fiscale": "RSSMRA80A01F205X"}]})
    [reason] = contradiction_reasons(signed, envelope("futura@pec.it"))
    assert reason.code == "signer_mismatch" and "Mario Rossi" in reason.detail
    by_rep = form(signature={"valid": True, "signers": [{"name": "CATTANEO ANDREA"}]})
    assert contradiction_reasons(by_rep, envelope("futura@pec.it")) == []


def test_invalid_signature_is_flagged() -> None:
    bad = form(signature={"valid": False, "signers": [{"name": "Andrea Cattaneo"}]})
    assert [r.code for r in contradiction_reasons(bad, envelope("futura@pec.it"))] == [
        "signature_invalid"]


def test_incomplete_form_names_what_is_missing() -> None:
    incomplete = form(status="incomplete", fields={"codice_fiscale": None}, tavoli=[])
    [reason] = form_reasons(incomplete)
    assert reason.code == "missing_field"
    assert "codice fiscale dell'ente" in reason.detail
    assert "scelta di almeno un tavolo" in reason.detail
    assert form_reasons(form()) == []
