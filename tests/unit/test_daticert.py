"""daticert.xml: fields, time zones, escaping, leniency and safety."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from parsers.daticert import Recipient, parse_daticert

FULL = b"""<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="errore-consegna" errore="no-dest">
    <intestazione>
        <mittente>protocollo@pec.comune.example.it</mittente>
        <destinatari tipo="certificato">a@pec.example.it</destinatari>
        <destinatari tipo="esterno">b@example.org</destinatari>
        <risposte>protocollo@pec.comune.example.it</risposte>
        <oggetto>Esito domanda &amp; allegati &#232;</oggetto>
    </intestazione>
    <dati>
        <gestore-emittente>Gestore S.p.A.</gestore-emittente>
        <data zona="-0530">
            <giorno>31/12/2024</giorno>
            <ora>23:59:58</ora>
        </data>
        <identificativo>opec1.20241231235958.1@pec.gestore.example</identificativo>
        <msgid>&lt;ack.7&amp;8@comune.example.it&gt;</msgid>
        <ricevuta tipo="breve" />
        <consegna>a@pec.example.it</consegna>
        <ricezione>a@pec.example.it</ricezione>
        <ricezione>b@example.org</ricezione>
        <errore-esteso>5.1.1 - utente sconosciuto</errore-esteso>
    </dati>
</postacert>
"""


def daticert_with_data(data_element: str) -> bytes:
    return (
        '<?xml version="1.0"?><postacert tipo="accettazione" errore="nessuno"><intestazione>'
        "<mittente>a@b.it</mittente></intestazione><dati><identificativo>id1</identificativo>"
        f"{data_element}</dati></postacert>"
    ).encode()


def test_all_fields() -> None:
    daticert, warnings = parse_daticert(FULL)

    assert warnings == ()
    assert daticert is not None
    assert daticert.tipo == "errore-consegna"
    assert daticert.errore == "no-dest"
    assert daticert.mittente == "protocollo@pec.comune.example.it"
    assert daticert.destinatari == (
        Recipient("a@pec.example.it", "certificato"),
        Recipient("b@example.org", "esterno"),
    )
    assert daticert.risposte == "protocollo@pec.comune.example.it"
    assert daticert.oggetto == "Esito domanda & allegati è"
    assert daticert.gestore_emittente == "Gestore S.p.A."
    assert daticert.identificativo == "opec1.20241231235958.1@pec.gestore.example"
    assert daticert.ricevuta == "breve"
    assert daticert.consegna == "a@pec.example.it"
    assert daticert.ricezione == ("a@pec.example.it", "b@example.org")
    assert daticert.errore_esteso == "5.1.1 - utente sconosciuto"


def test_msgid_is_unescaped_and_keeps_angle_brackets() -> None:
    daticert, _ = parse_daticert(FULL)
    assert daticert is not None
    assert daticert.msgid == "<ack.7&8@comune.example.it>"


def test_data_uses_the_zona_offset() -> None:
    daticert, _ = parse_daticert(FULL)
    assert daticert is not None
    expected = datetime(2024, 12, 31, 23, 59, 58, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    assert daticert.data == expected
    assert daticert.data is not None
    assert daticert.data.utcoffset() == -timedelta(hours=5, minutes=30)
    assert daticert.to_json()["data"] == "2024-12-31T23:59:58-05:30"


@pytest.mark.parametrize(
    ("element", "offset"),
    [
        ('<data><giorno>15/07/2025</giorno><ora>12:00:00</ora></data>', timedelta(hours=2)),
        ('<data><giorno>15/01/2025</giorno><ora>12:00:00</ora></data>', timedelta(hours=1)),
        ('<data zona="CET"><giorno>15/01/2025</giorno><ora>12:00:00</ora></data>',
         timedelta(hours=1)),
    ],
    ids=["summer", "winter", "invalid-zona"],
)
def test_missing_zona_assumes_rome_with_a_warning(element: str, offset: timedelta) -> None:
    daticert, warnings = parse_daticert(daticert_with_data(element))
    assert daticert is not None and daticert.data is not None
    assert daticert.data.utcoffset() == offset
    assert any("assunto fuso Europe/Rome" in w for w in warnings)


def test_zona_with_colon_is_accepted() -> None:
    element = '<data zona="+02:00"><giorno>01/06/2025</giorno><ora>08:30:00</ora></data>'
    daticert, warnings = parse_daticert(daticert_with_data(element))
    assert warnings == ()
    assert daticert is not None
    assert daticert.data == datetime(2025, 6, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    "element",
    [
        '<data zona="+0100"><giorno>31/02/2025</giorno><ora>12:00:00</ora></data>',
        '<data zona="+0100"><giorno>2025-01-01</giorno><ora>12:00</ora></data>',
        '<data zona="+0100"></data>',
    ],
)
def test_invalid_dates_give_none_and_a_warning(element: str) -> None:
    daticert, warnings = parse_daticert(daticert_with_data(element))
    assert daticert is not None
    assert daticert.data is None
    assert daticert.identificativo == "id1"
    assert any("data in daticert.xml non valida" in w for w in warnings)


def test_missing_msgid_is_fine() -> None:
    xml = FULL.replace(b"<msgid>", b"<!--").replace(b"</msgid>", b"-->")
    daticert, warnings = parse_daticert(xml)
    assert daticert is not None and daticert.msgid is None
    assert warnings == ()


def test_stray_character_is_ignored_with_a_warning() -> None:
    xml = FULL.replace(b"</risposte>", b"</risposte>a")
    daticert, warnings = parse_daticert(xml)
    assert daticert is not None
    assert daticert.risposte == "protocollo@pec.comune.example.it"
    assert daticert.oggetto == "Esito domanda & allegati è"
    assert "daticert.xml contiene testo estraneo tra gli elementi (ignorato)" in warnings


def test_broken_xml_is_recovered_with_a_warning() -> None:
    xml = FULL.replace(b"</oggetto>", b"</ogetto>").replace(b"&amp; allegati", b"& allegati")
    daticert, warnings = parse_daticert(xml)
    assert daticert is not None
    assert daticert.identificativo == "opec1.20241231235958.1@pec.gestore.example"
    assert any("letto in modo tollerante" in w for w in warnings)


def test_external_entities_are_never_resolved() -> None:
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE postacert [<!ENTITY xxe SYSTEM "file:///etc/hostname">'
        b'<!ENTITY big "BIGBIGBIG">]><postacert tipo="accettazione" errore="nessuno">'
        b"<intestazione><mittente>&xxe;x@y.it</mittente><oggetto>&big;</oggetto></intestazione>"
        b"<dati><identificativo>id</identificativo></dati></postacert>"
    )
    daticert, warnings = parse_daticert(xml)
    assert daticert is not None
    assert daticert.mittente == "x@y.it"
    assert daticert.oggetto is None
    assert "daticert.xml contiene una DTD: entità ignorate" in warnings


@pytest.mark.parametrize("junk", [b"", b"   ", b"\x00\x01\x02", b"not xml at all", b"<a><b></a>"])
def test_junk_gives_none_or_empty_with_warnings(junk: bytes) -> None:
    daticert, warnings = parse_daticert(junk)
    assert warnings
    if daticert is not None:
        assert daticert.tipo is None and daticert.identificativo is None


def test_unknown_values_are_warned_about() -> None:
    xml = FULL.replace(b'tipo="errore-consegna"', b'tipo="boh"').replace(b'"no-dest"', b'"forse"')
    daticert, warnings = parse_daticert(xml)
    assert daticert is not None and daticert.tipo == "boh"
    assert "tipo sconosciuto in daticert.xml (boh)" in warnings
    assert "errore sconosciuto in daticert.xml (forse)" in warnings


def test_namespaced_elements_are_read() -> None:
    xml = FULL.replace(b"<postacert ", b'<postacert xmlns="urn:example:pec" ')
    daticert, _ = parse_daticert(xml)
    assert daticert is not None and daticert.mittente == "protocollo@pec.comune.example.it"


def test_to_json_keys() -> None:
    daticert, _ = parse_daticert(FULL)
    assert daticert is not None
    data = daticert.to_json()
    assert list(data) == [
        "tipo", "errore", "mittente", "destinatari", "risposte", "oggetto", "gestore_emittente",
        "data", "identificativo", "msgid", "ricevuta", "consegna", "ricezione", "errore_esteso",
    ]  # fmt: skip
    assert data["destinatari"][1] == {"address": "b@example.org", "tipo": "esterno"}
    assert data["ricezione"] == ["a@pec.example.it", "b@example.org"]
