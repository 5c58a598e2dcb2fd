"""Organisations, submission versions, registration numbers, reports and the review queue,
through the store's functions, on both backends (concurrency with real threads)."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import InvalidRecord
from store.messages import add_message
from store.model import Message, Organisation, Submission
from store.reports import current_submissions, stats, submission_history
from store.review import add_review_reason, resolve_review_reasons, review_queue
from store.submissions import (
    LaterRows,
    NewVersion,
    add_submission,
    end_direct,
    find_or_create_organisation,
    get_or_create_organisation,
    lineage,
    lock_organisations,
    next_registration,
    provisional_organisation,
    write_directly,
)

ROME = ZoneInfo("Europe/Rome")
DEADLINE = datetime(2019, 9, 9, 23, 59, 59, tzinfo=ROME)
_counter = iter(range(1, 1_000_000))


def new_message(session: Session, sender: str = "ente@pec.it") -> Message:
    n = next(_counter)
    digest = hashlib.sha256(f"{threading.get_ident()} {n}".encode()).hexdigest()
    return add_message(session, sha256=digest, size=n, archive_path=f"{digest}.eml",
                       source="file", kind="posta-certificata", outcome="submission",
                       sender=sender)


def submit(session: Session, cf: str | None, *, sender: str = "ente@pec.it",
           when: datetime = datetime(2019, 9, 2, 10, 0, tzinfo=ROME),
           tavoli: Sequence[tuple[str, int | None]] = (("famiglia", None),),
           status: str = "complete", procedure: str = "PDZ2019",
           **fields: str | None) -> Submission:
    organisation = get_or_create_organisation(session, cf, sender, fields.get("denominazione"))
    return add_submission(
        session, organisation, new_message(session, sender), procedure=procedure,
        fields={"codice_fiscale": cf, **fields}, tavoli=tavoli, received_at=when,
        late=when.utcoffset() is not None and when > DEADLINE, out_of_procedure=False,
        status=status, warnings=["nota"] if status != "complete" else [], parsed={"fields": fields})


def test_organisation_by_code_then_sender_fallback(session: Session) -> None:
    a = get_or_create_organisation(session, " 97000000001 ", "A@PEC.it", "Alfa")
    assert (a.codice_fiscale, a.sender_key, a.denominazione) == ("97000000001", None, "Alfa")
    assert get_or_create_organisation(session, "97000000001", "other@pec.it", None) is a
    b = get_or_create_organisation(session, None, " <B@Pec.IT> ", "Beta")
    assert (b.codice_fiscale, b.sender_key) == (None, "b@pec.it")
    assert get_or_create_organisation(session, "", "b@pec.it", "Beta ODV") is b
    assert b.denominazione == "Beta ODV"
    with pytest.raises(InvalidRecord):
        get_or_create_organisation(session, None, " ", "Senza nome")


def test_a_code_arriving_later_adopts_the_provisional_organisation(session: Session) -> None:
    first = submit(session, None, sender="gamma@pec.it", denominazione="Gamma")
    provisional = first.organisation
    second = submit(session, "97000000003", sender="gamma@pec.it", denominazione="Gamma APS")
    assert second.organisation is provisional
    assert (provisional.codice_fiscale, provisional.sender_key) == ("97000000003", "gamma@pec.it")
    assert [s.version for s in submission_history(session, provisional.id)] == [1, 2]
    assert provisional_organisation(session, "gamma@pec.it") is None


def test_a_known_code_is_not_merged_with_a_provisional_one(session: Session) -> None:
    coded = submit(session, "97000000004", sender="delta@pec.it").organisation
    provisional = submit(session, None, sender="studio@pec.it").organisation
    again = submit(session, "97000000004", sender="studio@pec.it").organisation
    assert again is coded and provisional.codice_fiscale is None
    assert provisional_organisation(session, "studio@pec.it") is provisional


def test_resubmission_supersedes_and_history_is_kept(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        v1 = submit(session, "97000000001", denominazione="Alfa", comune="Bussero")
        v2 = submit(session, "97000000001", denominazione="Alfa ODV", comune="Gessate",
                    when=datetime(2019, 9, 5, tzinfo=ROME), tavoli=[("poverta", 1)])
        session.commit()
        org_id = v1.organisation_id
    with sessions() as session:
        history = submission_history(session, org_id)
        assert [(s.version, s.is_current, s.comune) for s in history] == [
            (1, False, "Bussero"), (2, True, "Gessate")]
        assert history[0].superseded_by_id == history[1].id
        assert history[1].superseded_by_id is None
        assert [t.code for t in history[1].tavoli] == ["poverta"]
        assert history[0].registration_number != history[1].registration_number
        assert session.get(Organisation, org_id).denominazione == "Alfa ODV"  # type: ignore[union-attr]
        assert [s.id for s in current_submissions(session)] == [v2.id]


def test_an_older_message_arriving_later_does_not_become_current(session: Session) -> None:
    newer = submit(session, "97000000001", when=datetime(2019, 9, 8, tzinfo=ROME))
    older = submit(session, "97000000001", when=datetime(2019, 9, 1, tzinfo=ROME))
    assert (newer.is_current, older.is_current) == (True, False)
    assert older.superseded_by_id == newer.id and older.version == 2


def test_the_schema_rejects_a_second_current_submission(session: Session) -> None:
    first = submit(session, "97000000001")
    second = submit(session, "97000000001", when=datetime(2019, 9, 3, tzinfo=ROME))
    assert not first.is_current
    second.superseded_by = None
    first.is_current = True
    with pytest.raises(IntegrityError):
        session.flush()


def test_registration_numbers_are_sequential_per_procedure(session: Session) -> None:
    numbers = [submit(session, f"9700000000{i}").registration_number for i in range(1, 4)]
    assert numbers == ["PDZ2019-0001", "PDZ2019-0002", "PDZ2019-0003"]
    assert submit(session, "97000000009", procedure="PDZ2022").registration_number \
        == "PDZ2022-0001"
    assert next_registration(session, "PDZ2019") == (4, "PDZ2019-0004")


def test_invalid_submissions_are_refused_with_reasons(session: Session) -> None:
    with pytest.raises(InvalidRecord, match="sport"):
        submit(session, "97000000001", tavoli=[("sport", None)])
    with pytest.raises(InvalidRecord, match="ripetuto"):
        submit(session, "97000000001", tavoli=[("famiglia", 1), ("famiglia", 2)])
    with pytest.raises(InvalidRecord, match="campo sconosciuto"):
        submit(session, "97000000001", colore="blu")
    with pytest.raises(InvalidRecord, match="fuso orario"):
        submit(session, "97000000001", when=datetime(2019, 9, 2))


def submit_as_a_poll(session: Session, cf: str | None, *, sender: str = "ente@pec.it",
                     when: datetime = datetime(2019, 9, 2, 10, 0, tzinfo=ROME),
                     hold: bool = False, status: str = "complete",
                     later: LaterRows | None = None, **fields: str | None) -> NewVersion:
    """What recording a submission does: organisation found and locked by one statement,
    lineage read once (none for an organisation it creates), the version written by plain
    statements (insert_version), placed by legal time, then its tables (add_version_rows);
    ``later``: the rows written at the end of the batch."""
    from store.submissions import VersionRows, add_version_rows, insert_version

    organisation, created = find_or_create_organisation(session, cf, sender, None, lock=True)
    known = lineage(session, organisation, new=created, locked=True)
    message = new_message(session, sender)
    sub = insert_version(
        session, organisation, message.id, procedure="PDZ2019",
        fields={"codice_fiscale": cf, **fields}, received_at=when,
        late=when > DEADLINE, out_of_procedure=False, status=status,
        warnings=["nota"] if status != "complete" else [], parsed={"fields": fields},
        attachment_id=None, review_state="pending" if hold or status != "complete" else "none",
        hold=hold, known=known, later=later)
    add_version_rows(session, sub, VersionRows(tavoli=[("famiglia", None)]), later=later)
    return sub


def submit_a_batch(sessions: sessionmaker[Session], versions: Sequence[tuple[str, str, datetime]],
                   locked_together: bool = True) -> list[str]:
    """What a poll's first pass does with the versions (code, sender, legal time) of one
    batch: one transaction without savepoints (:func:`write_directly`), their rows written at
    its end, before the numbers counted in memory; a lost race to create an organisation
    fails the whole, and the batch is written again (the poll then uses savepoints; the
    organisation exists by then); ``locked_together``: the batch's organisations locked
    first, by one statement (:func:`lock_organisations`), else each by its version. Their
    registration numbers."""
    while True:
        with sessions() as session:
            try:
                with session.begin():
                    write_directly(session)
                    if locked_together:
                        lock_organisations(session, [cf for cf, _sender, _when in versions])
                    later = LaterRows()
                    subs = [submit_as_a_poll(session, cf, sender=sender, when=when, later=later)
                            for cf, sender, when in versions]
                    later.write(session)
                    end_direct(session)
                return [sub.registration_number for sub in subs]
            except IntegrityError as exc:  # created by another writer meanwhile: only that
                assert "organisations" in str(exc.orig)


def test_a_version_written_as_a_poll_is_the_row_the_mapped_object_writes(
        session: Session) -> None:
    """insert_version (plain statements) against add_submission (the unit of work), version by
    version through the cases of supersession: first version; a newer one replacing it; an
    older one arriving later (not current, superseded by the current one); a held one (neither
    current nor superseding); NUL characters taken out; each row and the replaced one read back
    from the database. What the session held of a replaced version is read again: it shows
    the new state without a refresh."""
    when = [datetime(2019, 9, d, 10, tzinfo=ROME) for d in (2, 5, 3, 6)]
    steps: list[dict[str, object]] = [
        {"when": when[0], "denominazione": "Alfa\x00ODV", "comune": "Bussero"},
        {"when": when[1], "status": "needs_review", "pec": "alfa@pec.it"},
        {"when": when[2], "telefono": "02 123"},
        {"when": when[3], "hold": True},
    ]
    written: dict[str, list[int]] = {"mapped": [], "plain": []}
    for way, cf in (("mapped", "97000000081"), ("plain", "97000000082")):
        for step in steps:
            args = dict(step)
            at, hold = args.pop("when"), bool(args.pop("hold", False))
            status = str(args.pop("status", "complete"))
            if way == "plain":
                first = session.get(Submission, written[way][0]) if written[way] else None
                ident = submit_as_a_poll(session, cf, when=at, hold=hold,  # type: ignore[arg-type]
                                         status=status, **args).id  # type: ignore[arg-type]
                if first is not None and len(written[way]) == 1:  # v2 replaced v1: seen
                    assert (first.is_current, first.superseded_by_id) == (False, ident)
            else:
                organisation = get_or_create_organisation(session, cf, "ente@pec.it", None)
                ident = add_submission(
                    session, organisation, new_message(session), procedure="PDZ2019",
                    fields={"codice_fiscale": cf, **args},  # type: ignore[dict-item]
                    tavoli=[("famiglia", None)], received_at=at,  # type: ignore[arg-type]
                    late=at > DEADLINE, out_of_procedure=False, status=status,  # type: ignore[operator]
                    warnings=["nota"] if status != "complete" else [],
                    parsed={"fields": args}, hold=hold).id
            written[way].append(ident)
    session.flush()
    session.expire_all()  # both read back from the database
    rows = {way: [session.get(Submission, i) for i in ids] for way, ids in written.items()}
    states = {way: [(s.version, s.is_current, s.superseded_by_id is not None,  # type: ignore[union-attr]
                     s.review_state) for s in subs] for way, subs in rows.items()}  # type: ignore[union-attr]
    assert states["plain"] == states["mapped"] == [
        (1, False, True, "none"), (2, True, False, "pending"), (3, False, True, "none"),
        (4, False, False, "pending")]
    skip = {"id", "organisation_id", "message_id", "registration_seq", "registration_number",
            "created_at", "superseded_by_id", "codice_fiscale"}
    assert _columns(rows["plain"], skip) == _columns(rows["mapped"], skip)
    for way in rows:  # who supersedes whom, by position
        by_id = {s.id: k for k, s in enumerate(rows[way])}  # type: ignore[union-attr]
        links = [by_id.get(s.superseded_by_id) for s in rows[way]]  # type: ignore[union-attr, arg-type]
        assert links == [1, None, 1, None], way
    plain = rows["plain"][0]
    assert plain is not None and plain.denominazione == "Alfa\ufffdODV"
    assert [t.code for t in plain.tavoli] == ["famiglia"]
    assert plain.superseded_by is rows["plain"][1]


def test_a_version_rolled_back_with_its_savepoint_leaves_nothing_in_the_session(
        session: Session) -> None:
    """A poll writes a batch in one session, a savepoint per message: a version written and
    then rolled back with its savepoint leaves no trace the next message of the same
    organisation could trip on (the replaced version current again, no phantom row, the next
    version written normally, even where the database gives it the rolled-back id)."""
    first = submit_as_a_poll(session, "97000000083", when=datetime(2019, 9, 2, tzinfo=ROME))
    with pytest.raises(RuntimeError), session.begin_nested():
        submit_as_a_poll(session, "97000000083", when=datetime(2019, 9, 4, tzinfo=ROME))
        raise RuntimeError("the message fails after its version was written")
    replaced = session.get(Submission, first.id)
    assert replaced is not None
    assert (replaced.is_current, replaced.superseded_by_id) == (True, None)
    again = submit_as_a_poll(session, "97000000083", when=datetime(2019, 9, 5, tzinfo=ROME))
    session.flush()
    assert (replaced.is_current, replaced.superseded_by_id) == (False, again.id)
    organisation = session.get(Organisation, replaced.organisation_id)
    assert organisation is not None
    assert [(s.version, s.is_current) for s in organisation.submissions] == [(1, False),
                                                                             (2, True)]


def _concurrently(sessions: sessionmaker[Session], workers: int, per_worker: int,
                  cf_of: object, as_a_poll: bool | str = False) -> list[str]:
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            barrier.wait(timeout=30)
            if as_a_poll in ("batch", "batch-each"):  # every version in one transaction
                numbers.extend(submit_a_batch(sessions, [
                    (cf_of(w, i), f"w{w}@pec.it",  # type: ignore[operator]
                     datetime(2019, 9, 2, 10, tzinfo=ROME)
                     + timedelta(minutes=random.randrange(1000)))
                    for i in range(per_worker)], locked_together=as_a_poll == "batch"))
                return
            for i in range(per_worker):
                with sessions() as session:
                    cf = cf_of(w, i)  # type: ignore[operator]
                    when = datetime(2019, 9, 2, 10, tzinfo=ROME) + timedelta(
                        minutes=random.randrange(1000))
                    sub = (submit_as_a_poll(session, cf, sender=f"w{w}@pec.it", when=when)
                           if as_a_poll else submit(session, cf, sender=f"w{w}@pec.it"))
                    numbers.append(sub.registration_number)
                    session.commit()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return numbers


@pytest.mark.parametrize("as_a_poll", [False, "batch"], ids=["store", "as-a-batch"])
def test_concurrent_sessions_never_share_or_skip_a_number(
        sessions: sessionmaker[Session], as_a_poll: bool | str) -> None:
    """Also when a batch counts its numbers in memory after the first: the counter row stays
    locked by it meanwhile, and holds them all at its COMMIT."""
    numbers = _concurrently(sessions, 4, 5, lambda w, i: f"9{w:02d}{i:08d}", as_a_poll)
    assert sorted(numbers) == [f"PDZ2019-{n:04d}" for n in range(1, 21)]
    with sessions() as session:  # the next number follows them
        assert next_registration(session, "PDZ2019") == (21, "PDZ2019-0021")


@pytest.mark.parametrize("as_a_poll", [False, True, "batch", "batch-each"],
                         ids=["store", "as-a-poll", "as-a-batch", "as-a-batch-each"])
def test_concurrent_resubmissions_of_one_organisation(sessions: sessionmaker[Session],
                                                      as_a_poll: bool | str) -> None:
    """Several writers, one organisation (created by whichever comes first): versions 1..N,
    numbers 1..N, exactly one current version, the newest by legal time, every other one
    superseded by a later one (as a batch: the links written at the end of its transaction)."""
    numbers = _concurrently(sessions, 3, 3, lambda w, i: "97000000001", as_a_poll)
    assert sorted(numbers) == [f"PDZ2019-{n:04d}" for n in range(1, 10)]
    with sessions() as session:
        history = submission_history(session, session.scalars(select(Organisation.id)).one())
        assert sorted(s.version for s in history) == list(range(1, 10))
        [current] = [s for s in history if s.is_current]
        assert current.received_at == max(s.received_at for s in history)
        by_id = {s.id: s for s in history}
        for s in history:
            if s is not current:
                assert s.superseded_by_id in by_id
                assert by_id[s.superseded_by_id].received_at >= s.received_at


def _sample(session: Session) -> dict[str, Submission]:
    late = datetime(2019, 9, 20, tzinfo=ROME)
    return {
        "alfa": submit(session, "97000000001", comune="Bussero", natura_giuridica="odv",
                       tavoli=[("famiglia", 1), ("autonomie", 2)]),
        "beta": submit(session, "97000000002", comune="Gessate", natura_giuridica="aps",
                       tavoli=[("poverta", None)], when=late, status="incomplete"),
        "gamma": submit(session, "97000000003", comune="bussero", natura_giuridica="odv",
                        tavoli=[("famiglia", None)]),
        "gamma2": submit(session, "97000000003", comune="Bussero", natura_giuridica="odv",
                         tavoli=[("famiglia", None), ("poverta", None)], when=late),
        "delta": submit(session, None, sender="delta@pec.it", tavoli=[],
                        status="needs_review"),
    }


def test_current_submissions_and_filters(session: Session) -> None:
    s = _sample(session)
    session.commit()
    names = {v.id: k for k, v in s.items()}

    def pick(**kw: object) -> list[str]:
        return [names[x.id] for x in current_submissions(session, **kw)]  # type: ignore[arg-type]

    assert pick() == ["alfa", "beta", "gamma2", "delta"]  # by registration number
    assert pick(tavolo="famiglia") == ["alfa", "gamma2"]
    assert pick(tavolo="poverta") == ["beta", "gamma2"]
    assert pick(late=True) == ["beta", "gamma2"]
    assert pick(late=False) == ["alfa", "delta"]
    assert pick(status="incomplete") == ["beta"]
    assert pick(comune="BUSSERO", natura_giuridica="odv") == ["alfa", "gamma2"]
    first = current_submissions(session)[0]
    assert first.tavolo_codes == ["famiglia", "autonomie"]
    assert first.message.sender == "ente@pec.it"


def test_stats(session: Session) -> None:
    s = _sample(session)
    add_review_reason(session, code="missing_field", detail="manca il codice fiscale",
                      submission=s["delta"])
    add_review_reason(session, code="scan", detail="scansione", submission=s["delta"])
    add_review_reason(session, code="unreadable", detail="illeggibile",
                      message=new_message(session))
    result = stats(session)
    assert result["adherents"] == 4
    assert result["per_tavolo"] == {"famiglia": 2, "poverta": 2, "autonomie": 1}
    assert result["per_comune"] == {"Bussero": 2, "Gessate": 1, "(non indicato)": 1}
    assert result["per_natura_giuridica"] == {"odv": 2, "(non indicato)": 1, "aps": 1}
    assert (result["on_time"], result["late"], result["out_of_procedure"]) == (2, 2, 0)
    assert result["per_status"] == {"complete": 2, "incomplete": 1, "needs_review": 1}
    assert result["review_queue"] == 2
    assert result["messages"]["submission"] == 6 and result["messages"]["ignored"] == 0


def test_review_queue_oldest_first_until_resolved(session: Session) -> None:
    s = _sample(session)
    t0 = datetime(2019, 9, 3, tzinfo=UTC)
    later = add_review_reason(session, code="pec_mismatch", detail="PEC dichiarata diversa",
                              submission=s["alfa"])
    later.created_at = t0 + timedelta(hours=2)
    older = add_review_reason(session, code="missing_field", detail="manca il referente",
                              submission=s["beta"])
    older.created_at = t0
    assert s["alfa"].review_state == "pending"
    assert [r.id for r in review_queue(session)] == [older.id, later.id]
    assert resolve_review_reasons(session, submission=s["beta"]) == 1
    assert [r.id for r in review_queue(session)] == [later.id]
    with pytest.raises(InvalidRecord):
        add_review_reason(session, code="missing_field", detail="x")
    with pytest.raises(InvalidRecord):
        add_review_reason(session, code="boh", detail="x", submission=s["alfa"])


def _columns(rows: Sequence[object], skip: set[str]) -> list[dict[str, object]]:
    return [{c.key: getattr(row, c.key) for c in row.__table__.columns  # type: ignore[attr-defined]
             if c.key not in skip} for row in rows]


def test_version_rows_are_the_rows_the_mapped_objects_write(session: Session) -> None:
    """add_version_rows (plain INSERTs, a poll's path) writes the same tables, reading, review
    reasons and acknowledgement as the mapped objects (add_reading, add_review_reason,
    add_acknowledgement): NUL characters taken out, addresses and Message-IDs normalised,
    the version put under review; its collections are then read from the database."""
    from store.model import Acknowledgement, ReviewReason, SubmissionTavolo
    from store.reading import SubmissionReading, add_reading
    from store.receipts import add_acknowledgement
    from store.submissions import VersionRows, add_version_rows

    tavoli = (("famiglia", 2), ("poverta", None), ("autonomie", 1))
    provenance = {"denominazione": {"source": "text_layer"}, "nota": "con\x00nul"}
    ocr = {"text": "testo\x00letto", "pages": 2, "seconds": 1.5}
    reasons = [("missing_field", "manca il codice\x00fiscale"), ("other", "seconda")]
    reply = (" msgid.1@comune.it ", " Ente@PEC.it\x00 " + "x" * 400)  # clipped to 320

    mapped = submit(session, "97000000091", sender="m@pec.it", tavoli=tavoli)
    add_reading(session, mapped, provenance, ocr)
    for code, detail in reasons:
        add_review_reason(session, code=code, detail=detail, submission=mapped)
    add_acknowledgement(session, mapped, message_id=reply[0], to_address=reply[1])
    session.flush()

    plain = submit(session, "97000000092", sender="p@pec.it", tavoli=())
    assert plain.review_state == "none"
    add_version_rows(session, plain, VersionRows(tavoli=tavoli, provenance=provenance,
                                                 ocr=ocr, reasons=reasons, reply=(
                                                     " msgid.2@comune.it ", reply[1])))
    assert plain.review_state == mapped.review_state == "pending"
    assert sorted((t.code, t.rank) for t in plain.tavoli) == sorted(tavoli)
    assert [r.detail for r in plain.review_reasons] == ["manca il codice\ufffdfiscale", "seconda"]

    def rows(model: type, sub: Submission, order: object) -> list[object]:
        return list(session.scalars(select(model).where(model.submission_id == sub.id)
                                    .order_by(order)))

    session.expire_all()  # both read back from the database, not from memory
    for model, order in ((SubmissionTavolo, SubmissionTavolo.code),
                         (SubmissionReading, SubmissionReading.submission_id),
                         (ReviewReason, ReviewReason.id),
                         (Acknowledgement, Acknowledgement.id)):
        skip = {"id", "submission_id", "created_at"} | (
            {"message_id"} if model is Acknowledgement else set())  # its own Message-ID
        ours, theirs = rows(model, plain, order), rows(model, mapped, order)
        assert ours and _columns(ours, skip) == _columns(theirs, skip), model.__name__
    assert len(rows(Acknowledgement, plain, Acknowledgement.id)[0]  # type: ignore[attr-defined]
               .to_address) == 320
    acks = rows(Acknowledgement, plain, Acknowledgement.id)
    assert [a.message_id for a in acks] == ["<msgid.2@comune.it>"]  # type: ignore[attr-defined]
    assert all(r.created_at is not None  # type: ignore[attr-defined]
               for r in rows(ReviewReason, plain, ReviewReason.id))


def test_version_rows_are_checked_before_anything_is_written(session: Session) -> None:
    from store.submissions import VersionRows, add_version_rows

    sub = submit(session, "97000000093", tavoli=())
    for rows in (VersionRows(tavoli=(("famiglia", 1), ("famiglia", 2))),
                 VersionRows(tavoli=(("nessuno", None),)),
                 VersionRows(reasons=(("not_a_code", "x"),)),
                 VersionRows(reply=("  ", "a@pec.it"))):
        with pytest.raises(InvalidRecord):
            add_version_rows(session, sub, rows)
    session.expire(sub, ["tavoli", "review_reasons"])
    assert sub.tavoli == [] and sub.review_reasons == [] and sub.review_state == "none"
    from store.model import Acknowledgement
    from store.reading import SubmissionReading
    for model in (SubmissionReading, Acknowledgement):
        assert not session.scalars(select(model).where(model.submission_id == sub.id)).all()


def test_a_batch_takes_its_organisations_and_their_versions_by_one_statement_each(
        sessions: sessionmaker[Session], backend: str) -> None:
    """lock_organisations, in a transaction written directly: the batch's known organisations
    locked and their versions read by two statements in all, then each version written as
    without them: a second version of one organisation in the batch follows the first (what
    was read before it is not used again)."""
    when = [datetime(2019, 9, d, 10, tzinfo=ROME) for d in (2, 3, 4, 5)]
    with sessions() as session, session.begin():
        first = {cf: submit_as_a_poll(session, cf, when=when[0]) for cf in ("AAA11", "BBB22")}
    with sessions() as session, session.begin():
        write_directly(session)
        engine = session.get_bind()
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            lock_organisations(session, ["aaa11 ", "BBB22", "CCC33", None])
            assert len([s for s in seen if s.startswith("SELECT")]) == 2
            if backend == "postgresql":  # held until the batch commits
                with sessions() as other, pytest.raises(OperationalError):
                    other.execute(select(Organisation).where(
                        Organisation.codice_fiscale == "AAA11").with_for_update(nowait=True))
            seen.clear()
            later = LaterRows()
            a2 = submit_as_a_poll(session, "AAA11", when=when[1], later=later)
            b2 = submit_as_a_poll(session, "BBB22", when=when[1], later=later)
            assert not [s for s in seen if "FROM organisations" in s]  # found, read: taken
            a3 = submit_as_a_poll(session, "AAA11", when=when[2], later=later)  # read again
            c1 = submit_as_a_poll(session, "CCC33", when=when[3], later=later)
            later.write(session)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        end_direct(session)
    with sessions() as session:
        rows = {s.id: s for s in session.scalars(select(Submission))}
        a, b = first["AAA11"], first["BBB22"]
        assert (rows[a2.id].version, rows[a3.id].version, rows[b2.id].version,
                rows[c1.id].version) == (2, 3, 2, 1)
        assert [rows[i].is_current for i in (a.id, a2.id, a3.id, b.id, b2.id, c1.id)] == [
            False, False, True, False, True, True]
        assert (rows[a.id].superseded_by_id, rows[a2.id].superseded_by_id,
                rows[b.id].superseded_by_id) == (a2.id, a3.id, b2.id)
