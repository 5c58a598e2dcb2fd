#!/usr/bin/env python3
"""Benchmark the web desk: server time of the dashboard, the review queue and a submission
page with 5,000 submissions, on SQLite and on PostgreSQL. Target (issue 12): under 200 ms each.

The database is filled directly through the models (the parser is not what is measured):
5,000 organisations with one submission each (every 10th with a second, older version), three
tables, review reasons open on every 8th, an acknowledgement each and a few audit entries.
Requests go through Starlette's test client in this process, so the time is the server's
(routing, session check, queries, template) without a network. Not a test: figures, not
verdicts, on a shared machine.

    python scripts/bench_desk.py [--submissions N] [--rounds R] [--pg-admin URL]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from pec_ingest.config import Config, DeskSection, StateSection
from pec_ingest.web.accounts import add_user
from pec_ingest.web.app import create_app
from store.audit import record_action
from store.engine import make_engine, session_factory
from store.migration import upgrade
from store.model import (
    Acknowledgement,
    Message,
    Organisation,
    Submission,
    SubmissionTavolo,
)
from store.review import add_review_reason

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
COMUNI = ("Cernusco sul Naviglio", "Pioltello", "Segrate", "Vimodrone", "Cassina de' Pecchi",
          "Carugate", "Bussero", "Pessano con Bornago", "Gorgonzola")
NATURE = ("odv", "aps", "cooperativa_sociale", "fondazione", "scuola", None)
START = datetime(2019, 8, 20, 8, 0, tzinfo=UTC)


def fill(session: Session, count: int) -> int:
    """``count`` organisations with their submissions; returns a submission id with history."""
    seq, probe = 0, 0
    for n in range(count):
        org = Organisation(codice_fiscale=f"{80000000000 + n:011d}", denominazione=f"Ente {n}")
        session.add(org)
        versions = 2 if n % 10 == 0 else 1
        for v in range(1, versions + 1):
            seq += 1
            sub = _submission(session, org, n, v, seq, current=(v == versions))
            if n % 8 == 0 and v == versions:
                add_review_reason(session, code="missing_field", submission=sub,
                                  detail="codice fiscale mancante o non valido")
            if v == versions and n % 10 == 0:
                probe = sub.id
                record_action(session, "bench", "set_field", submission_id=sub.id,
                              field="comune", before=None, after=sub.comune)
        if n % 500 == 499:
            session.flush()
    return probe


def _submission(session: Session, org: Organisation, n: int, version: int, seq: int, *,
                current: bool) -> Submission:
    when = START + timedelta(minutes=7 * n + version)
    digest = hashlib.sha256(f"{n}-{version}".encode()).hexdigest()
    msg = Message(sha256=digest, size=50_000, archive_path=f"{digest[:2]}/{digest}.eml",
                  source="bench", kind="posta-certificata", sender=f"ente{n}@pec.example",
                  subject="Allegato 1", legal_time=when, outcome="submission")
    sub = Submission(organisation=org, message=msg, version=version, procedure="PDZ2019",
                     registration_seq=seq, registration_number=f"PDZ2019-{seq:05d}",
                     received_at=when, late=when > START + timedelta(days=20),
                     status="complete", is_current=current, denominazione=org.denominazione,
                     codice_fiscale=org.codice_fiscale, comune=COMUNI[n % len(COMUNI)],
                     natura_giuridica=NATURE[n % len(NATURE)], email=f"info{n}@ente.example",
                     legale_rappresentante="Mario Rossi")
    sub.tavoli = [SubmissionTavolo(code=c, rank=None)
                  for c in ("famiglia", "poverta", "autonomie")[: 1 + n % 3]]
    session.add(sub)
    session.flush()
    session.add(Acknowledgement(submission=sub, message_id=f"<ack.{seq}@bench>",
                                to_address=msg.sender or "", status="delivered"))
    return sub


def measure(url: str, count: int, rounds: int, state: Path) -> dict[str, list[float]]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        probe = fill(s, count)
        add_user(s, "bench", "responsabile", "bench-password-lunga")
    config = dataclasses.replace(Config(), state=StateSection(dir=state),
                                 desk=DeskSection(secure_cookie=False))
    times: dict[str, list[float]] = {}
    with TestClient(create_app(config, sessions)) as client:
        page = client.get("/accesso").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        client.post("/accesso", data={"nome": "bench", "password": "bench-password-lunga",
                                      "csrf": token.group(1)})
        for name, path in (("dashboard", "/"), ("queue", "/coda"),
                           ("submission", f"/domande/{probe}"), ("adherents", "/aderenti")):
            client.get(path)  # warm-up
            times[name] = []
            for _ in range(rounds):
                started = time.perf_counter()
                answer = client.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
    engine.dispose()
    return times


def report(backend: str, times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        print(f"{backend:<11} {name:<11} median {statistics.median(values):7.1f} ms   "
              f"max {max(values):7.1f} ms   ({len(values)} requests)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", measure(f"sqlite:///{tmp}/bench.db", args.submissions, args.rounds,
                                 Path(tmp)))
        admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
        name = f"pec_ingest_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # no server: report SQLite only
            print(f"postgresql  non disponibile: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 0
        try:
            url = make_url(args.pg_admin).set(database=name).render_as_string(
                hide_password=False)
            report("postgresql", measure(url, args.submissions, args.rounds, Path(tmp)))
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
