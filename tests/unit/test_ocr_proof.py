"""The proof gate and the OCR word layout: values in, verdicts out (no tesseract here)."""

from __future__ import annotations

import pytest

from parsers.ocr_text import Located, OcrWord, locate, ocr_lines
from parsers.proof import (
    CERTIFICATE,
    EARLIER,
    MESSAGE,
    PROVED,
    SENDER,
    SUGGESTION,
    Evidence,
    cap_matches,
    judge,
)

SURE = Located(96.0, 1, (10, 10, 100, 20))
UNSURE = Located(71.0, 1, (10, 10, 100, 20))
CF = "74833780716"  # valid Luhn check digit, office code 071


def _word(text: str, conf: float, left: int, line: int = 1, height: int = 20) -> OcrWord:
    return OcrWord(text, conf, 1, (left, line * 40, len(text) * 10, height), (1, 1, line))


def test_code_with_valid_checksum_and_sure_reading_is_proved() -> None:
    verdict = judge({"codice_fiscale": CF}, {"codice_fiscale": SURE}, Evidence())
    assert verdict["codice_fiscale"].source == PROVED
    assert verdict["codice_fiscale"].value == CF


@pytest.mark.parametrize("where", [UNSURE, None])
def test_code_read_unsurely_is_only_a_suggestion(where: Located | None) -> None:
    verdict = judge({"codice_fiscale": CF}, {"codice_fiscale": where}, Evidence())
    assert verdict["codice_fiscale"].source == SUGGESTION
    assert not verdict["codice_fiscale"].proved


def test_code_with_a_wrong_check_digit_is_never_proved_however_sure() -> None:
    wrong = CF[:-1] + str((int(CF[-1]) + 1) % 10)
    verdict = judge({"partita_iva": wrong}, {"partita_iva": Located(99.0, 1, (0, 0, 1, 1))},
                    Evidence())
    assert verdict["partita_iva"].source == SUGGESTION


def test_code_equal_to_an_independent_source_is_proved_even_if_unsure() -> None:
    earlier = judge({"codice_fiscale": CF}, {"codice_fiscale": UNSURE},
                    Evidence(earlier={"codice_fiscale": CF}))
    signer = judge({"codice_fiscale": CF}, {"codice_fiscale": UNSURE},
                   Evidence(signer_codes=(CF,)))
    assert earlier["codice_fiscale"].source == EARLIER
    assert signer["codice_fiscale"].source == CERTIFICATE


def test_a_personal_code_is_proved_only_by_an_independent_source() -> None:
    personal = "RSSMRA80A01F205X"
    alone = judge({"codice_fiscale": personal}, {"codice_fiscale": SURE}, Evidence())
    signed = judge({"codice_fiscale": personal}, {"codice_fiscale": SURE},
                   Evidence(signer_codes=(personal,)))
    assert alone["codice_fiscale"].source == SUGGESTION
    assert signed["codice_fiscale"].source == CERTIFICATE


def test_addresses_are_proved_only_by_equality_and_never_corrected() -> None:
    evidence = Evidence(certified_sender="Ente@PEC.it", earlier={"email": "info@ente.it"},
                        message_addresses=("segreteria@ente.it",))
    verdicts = judge({"pec": "ente@pec.it", "email": "info@ente.it"}, {}, evidence)
    assert verdicts["pec"].source == SENDER and verdicts["email"].source == EARLIER
    other = judge({"email": "segreteria@ente.it"}, {}, evidence)
    assert other["email"].source == MESSAGE
    near = judge({"pec": "ente@pec.lt"}, {"pec": SURE}, evidence)  # one letter off: not proof
    assert near["pec"].source == SUGGESTION and near["pec"].value == "ente@pec.lt"


def test_comune_needs_the_list_a_sure_reading_and_a_matching_cap() -> None:
    sede = "Via Roma 1, 20063 Cernusco sul Naviglio (MI)"
    proved = judge({"comune": "Cernusco sul Naviglio", "sede_legale": sede},
                   {"comune": SURE}, Evidence())
    assert proved["comune"].source == PROVED
    assert proved["sede_legale"].source == SUGGESTION  # addresses are never proved
    wrong_cap = judge({"comune": "Cernusco sul Naviglio",
                       "sede_legale": "Via Roma 1, 20900 Cernusco sul Naviglio"},
                      {"comune": SURE}, Evidence())
    no_cap = judge({"comune": "Gorgonzola", "sede_legale": "Via Roma 1 Gorgonzola"},
                   {"comune": SURE}, Evidence())
    unsure = judge({"comune": "Cernusco sul Naviglio", "sede_legale": sede},
                   {"comune": UNSURE}, Evidence())
    assert {wrong_cap["comune"].source, no_cap["comune"].source,
            unsure["comune"].source} == {SUGGESTION}


def test_cap_ranges() -> None:
    assert cap_matches("Gorgonzola", "20064") and cap_matches("Monza", "20900")
    assert not cap_matches("Monza", "20064") and not cap_matches("Milano", "20064")
    assert not cap_matches("Roma", "00100")  # province not listed in full: cannot check


@pytest.mark.parametrize("field", ["denominazione", "legale_rappresentante", "referente",
                                   "sede_legale", "telefono", "natura_giuridica"])
def test_names_and_the_rest_are_suggestions_whatever_the_evidence(field: str) -> None:
    evidence = Evidence(certified_sender="x@pec.it", earlier={field: "Mario Rossi"})
    verdict = judge({field: "Mario Rossi"}, {field: Located(99.0, 1, (0, 0, 1, 1))}, evidence)
    assert verdict[field].source == SUGGESTION


def test_ocr_lines_split_cells_at_wide_gaps_only() -> None:
    words = [_word("Codice", 95, 0), _word("fiscale", 95, 70), _word(CF, 93, 600),
             _word("Via", 90, 0, line=2), _word("Roma", 90, 40, line=2)]
    assert ocr_lines(words) == (f"Codice fiscale\t{CF}", "Via Roma")


def test_locate_takes_the_weakest_word_of_the_shortest_run() -> None:
    words = [_word("Codice", 40, 0), _word("fiscale:", 95, 70), _word("748337", 97, 160),
             _word("80716", 91, 230)]
    found = locate(CF, words)
    assert found is not None and found.confidence == 91 and found.box[0] == 160
    assert locate("12345678901", words) is None
