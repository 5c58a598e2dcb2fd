"""Configuration: one TOML file read into frozen dataclasses.

Where it comes from: ``--config PATH``, else ``$PEC_INGEST_CONFIG``, else the embedded defaults
(SQLite and the archive in the state directory). ``$PEC_INGEST_DATABASE_URL`` overrides
``[database] url``. Unknown keys are errors (typos), and every problem is reported at once in
a :class:`~pec_ingest.errors.ConfigError`. Every key is documented in ``config.example.toml``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsers.limits import Limits
from parsers.vocabulary import DEFAULT_VOCABULARY, FIELD_NAMES, Vocabulary
from pec_ingest.blank_form import read_blank
from pec_ingest.errors import ConfigError
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from pec_ingest.trust import TrustSection
from store.archive import SYNC_MODES, syncfs_usable

ENV_CONFIG = "PEC_INGEST_CONFIG"
ENV_DATABASE_URL = "PEC_INGEST_DATABASE_URL"


def default_state_dir() -> Path:
    """systemd's StateDirectory, else the XDG state folder of the user."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pec-ingest"


@dataclass(frozen=True)
class StateSection:
    dir: Path = field(default_factory=default_state_dir)
    # how the archive makes a batch durable: store.archive.SYNC_MODES (see its docstring)
    archive_sync: str = "auto"


@dataclass(frozen=True)
class DatabaseSection:
    url: str = ""  # empty: sqlite in the state directory


@dataclass(frozen=True)
class TemplateLabel:
    """The admin's mapping of a blank form's label to a canonical field."""

    label: str = ""
    field: str = ""


@dataclass(frozen=True)
class ProcedureSection:
    code: str = "PDZ2019"
    name: str = "Piano Sociale di Zona 2018/2020 - Distretto 4: co-programmazione dei Tavoli d'area"
    address: str = "comune.cernuscosulnaviglio@pec.regione.lombardia.it"
    timezone: str = "Europe/Rome"
    deadline: datetime | date = date(2019, 9, 9)
    closing: datetime | date | None = None
    # the office's blank forms (DOCX or PDF; a path relative to the configuration file)
    template: tuple[str, ...] = ()
    template_labels: tuple[TemplateLabel, ...] = ()


@dataclass(frozen=True)
class OfficeSection:
    """The office the forms are addressed to: its data are never the applicant's."""

    name: str = "Comune di Cernusco sul Naviglio - Ufficio di Piano"
    addresses: tuple[str, ...] = ("pianodizona@comune.cernuscosulnaviglio.mi.it",
                                  "comune.cernuscosulnaviglio@pec.regione.lombardia.it")
    domains: tuple[str, ...] = ("comune.cernuscosulnaviglio.mi.it",)
    phones: tuple[str, ...] = ("02 9278 434", "02 9278 358", "02 9278 217")
    codici_fiscali: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelevanceSection:
    subject_keywords: tuple[str, ...] = (
        "allegato 1", "allegato1", "all. 1", "manifestazione di interesse",
        "manifestazione d'interesse", "piano di zona", "piano sociale di zona", "tavoli d'area",
        "tavolo d'area", "co-programmazione", "coprogrammazione", "adesione ai tavoli",
        "adesione tavoli", "partecipazione ai tavoli")
    filename_keywords: tuple[str, ...] = (
        "allegato1", "allegato_1", "allegato 1", "allegato-1", "all1", "all_1", "all.1",
        "adesione", "manifestazione", "pdz")
    min_form_relevance: int = 3


@dataclass(frozen=True)
class ReviewSection:
    require_signature_or_id_document: bool = True
    id_document_keywords: tuple[str, ...] = (
        "documento", "identit", "carta", "c.i.", "ci_", "patente", "passaporto", "doc_id", "cie")


@dataclass(frozen=True)
class ParserSection:
    timeout_seconds: float = 30.0
    memory_limit_mb: int = 768
    max_attachment_mb: int = 50
    max_pages: int = 30
    max_failures: int = 3
    # what one message may cost: its candidate attachments are read within this many seconds
    # in all, and at most this many of them (the rest: not read, listed for review)
    message_budget_seconds: float = 120.0
    max_candidates: int = 10


@dataclass(frozen=True)
class DeskSection:
    """The web desk (``pec-ingest desk``)."""

    host: str = "127.0.0.1"
    port: int = 8470
    session_minutes: int = 480
    secure_cookie: bool = True
    trusted_header: str = ""  # e.g. "X-Remote-User" set by the reverse proxy's SSO; "" = off
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    login_attempts: int = 5
    login_window_minutes: int = 15


@dataclass(frozen=True)
class Config:
    state: StateSection = field(default_factory=StateSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    procedure: ProcedureSection = field(default_factory=ProcedureSection)
    office: OfficeSection = field(default_factory=OfficeSection)
    relevance: RelevanceSection = field(default_factory=RelevanceSection)
    review: ReviewSection = field(default_factory=ReviewSection)
    parser: ParserSection = field(default_factory=ParserSection)
    mailboxes: tuple[MailboxSection, ...] = ()
    smtp: SmtpSection = field(default_factory=SmtpSection)
    acknowledgements: AcknowledgementSection = field(default_factory=AcknowledgementSection)
    trust: TrustSection = field(default_factory=TrustSection)
    desk: DeskSection = field(default_factory=DeskSection)
    vocabulary: Vocabulary = DEFAULT_VOCABULARY
    source: Path | None = None

    def __post_init__(self) -> None:
        # "auto": SMTP when [smtp] is configured, else the file transport
        object.__setattr__(self, "acknowledgements", self.acknowledgements.resolved(self.smtp))
        # the recipient's own addresses, domains, phones and codes are never the applicant's
        mailbox_addresses = [m.username for m in self.mailboxes if "@" in m.username]
        object.__setattr__(self, "vocabulary", self.vocabulary.with_recipient(
            addresses=(*self.office.addresses, self.procedure.address, *mailbox_addresses),
            domains=self.office.domains, phones=self.office.phones,
            codes=self.office.codici_fiscali))

    @property
    def database_url(self) -> str:
        override = os.environ.get(ENV_DATABASE_URL)
        if override:
            return override
        return self.database.url or f"sqlite:///{self.state.dir / 'pec-ingest.db'}"

    @property
    def archive_dir(self) -> Path:
        return self.state.dir / "archive"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.procedure.timezone)

    @property
    def deadline(self) -> datetime:
        return _end_of(self.procedure.deadline, self.zone)

    @property
    def closing(self) -> datetime | None:
        c = self.procedure.closing
        return None if c is None else _end_of(c, self.zone)

    @property
    def limits(self) -> Limits:
        return Limits(max_input_bytes=self.parser.max_attachment_mb * 1024 * 1024,
                      max_pages=self.parser.max_pages)


def _end_of(value: datetime | date, zone: ZoneInfo) -> datetime:
    """A bare date means the whole day, local time; a naive datetime is local time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value, time(23, 59, 59, 999999), tzinfo=zone)


SECTIONS: dict[str, type] = {
    "state": StateSection,
    "database": DatabaseSection,
    "procedure": ProcedureSection,
    "office": OfficeSection,
    "relevance": RelevanceSection,
    "review": ReviewSection,
    "parser": ParserSection,
    "smtp": SmtpSection,
    "acknowledgements": AcknowledgementSection,
    "trust": TrustSection,
    "desk": DeskSection,
}


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the configuration named by ``path`` or ``$PEC_INGEST_CONFIG``, or the defaults."""
    chosen = path if path is not None else os.environ.get(ENV_CONFIG) or None
    if chosen is None:
        return Config()
    p = Path(chosen)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: file non trovato") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: è una cartella, non un file di configurazione") from None
    except OSError as exc:
        raise ConfigError(f"{p}: impossibile leggere il file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(decode_config(raw, p))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: TOML non valido: {exc}") from exc
    return parse_config(data, source=p)


def decode_config(raw: bytes, p: Path) -> str:
    """The file's text: UTF-8, with or without the BOM some Windows editors add."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{p}: il file è in UTF-16; salvarlo come UTF-8")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: il file non è in UTF-8 (carattere non valido alla riga {line}); "
                          "salvarlo come UTF-8") from None


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> Config:
    """Build a Config from parsed TOML, reporting every problem at once."""
    problems: list[str] = []
    built: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            built[key] = build_section(SECTIONS[key], value, key, problems)
        elif key == "vocabulary":
            built[key] = _vocabulary(value, problems)
        elif key == "mailboxes":
            built[key] = _mailboxes(value, problems)
        else:
            known = ", ".join([*SECTIONS, "mailboxes", "vocabulary"])
            problems.append(f"[{key}]: sezione sconosciuta (ammesse: {known})")
    config = Config(**{k: v for k, v in built.items() if v is not None}, source=source)
    _check(config, problems)
    _load_templates(config, problems)
    if problems:
        raise ConfigError(problems)
    return config


def build_section(cls: type, value: Any, where: str, problems: list[str]) -> Any:
    """Instantiate the dataclass ``cls`` from a TOML table, type-checking every key."""
    if not isinstance(value, Mapping):
        problems.append(f"{where}: deve essere una tabella")
        return None
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in names:
            allowed = ", ".join(sorted(names))
            problems.append(f"{where}.{key}: chiave sconosciuta (ammesse: {allowed})")
            continue
        inner = _table_list(hints[key])
        if inner is not None and isinstance(raw, list):
            found = len(problems)
            built = [build_section(inner, x, f"{where}.{key}[{i}]", problems)
                     for i, x in enumerate(raw)]
            if len(problems) == found:
                kwargs[key] = tuple(built)
            continue
        ok, converted = _convert(raw, hints[key])
        if ok:
            kwargs[key] = converted
        else:
            expected = _describe(hints[key])
            problems.append(f"{where}.{key}: valore {show_value(raw)} non valido, "
                            f"atteso {expected}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def _table_list(hint: Any) -> type | None:
    """The dataclass of a ``tuple[Dataclass, ...]`` hint (a list of tables), else None."""
    if typing.get_origin(hint) is not tuple:
        return None
    inner = typing.get_args(hint)[0]
    return inner if isinstance(inner, type) and dataclasses.is_dataclass(inner) else None


def show_value(raw: Any) -> str:
    """A TOML value as the file writes it, for a message (never a Python repr)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str):
        return f'"{raw}"'
    if isinstance(raw, date | datetime):
        return raw.isoformat()
    if isinstance(raw, Mapping):
        return "{...} (una tabella)"
    if isinstance(raw, list):
        return f"[...] (una lista di {len(raw)} elementi)"
    return str(raw)


def _convert(raw: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is type(None):
                continue
            ok, value = _convert(raw, option)
            if ok:
                return True, value
        return False, None
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        if not isinstance(raw, list):
            return False, None
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            problems: list[str] = []
            built = [build_section(inner, x, "elemento", problems) for x in raw]
            return not problems, tuple(built)
        items = [_convert(x, inner) for x in raw]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if hint is Path:
        return isinstance(raw, str) and bool(raw), Path(raw) if isinstance(raw, str) else None
    if hint is float:
        return isinstance(raw, int | float) and not isinstance(raw, bool), float(raw) if isinstance(
            raw, int | float) else None
    if hint is int:
        return isinstance(raw, int) and not isinstance(raw, bool), raw
    if hint is date:
        return isinstance(raw, date) and not isinstance(raw, datetime), raw
    return isinstance(raw, hint), raw


def _describe(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "tabella"
    names = {str: "testo", int: "numero intero", float: "numero", bool: "true/false",
             Path: "percorso", date: "data (AAAA-MM-GG)",
             datetime: "data e ora (AAAA-MM-GGTHH:MM:SS, senza virgolette)"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " o ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return f"lista di {_describe(typing.get_args(hint)[0])}"
    return names.get(hint, str(hint))


def _mailboxes(value: Any, problems: list[str]) -> tuple[MailboxSection, ...] | None:
    if not isinstance(value, list):
        problems.append("mailboxes: usare [[mailboxes]] (una tabella per casella)")
        return None
    boxes = []
    for i, table in enumerate(value):
        where = f"mailboxes[{i}]"
        box = build_section(MailboxSection, table, where, problems)
        if box is not None:
            problems.extend(box.problems(f"mailboxes[{box.name or i}]"))
            boxes.append(box)
    names = [b.name for b in boxes]
    problems.extend(f"mailboxes: nome {n!r} ripetuto" for n in sorted(set(names))
                    if names.count(n) > 1)
    return tuple(boxes)


def _vocabulary(value: Any, problems: list[str]) -> Vocabulary | None:
    if not isinstance(value, Mapping):
        problems.append("vocabulary: deve essere una tabella")
        return None
    try:
        return DEFAULT_VOCABULARY.extended(value)
    except (ValueError, TypeError) as exc:
        problems.append(f"vocabulary: {exc}")
        return None


def _load_templates(config: Config, problems: list[str]) -> None:
    """Read the blank forms of ``[procedure] template`` into the parser's vocabulary."""
    procedure = config.procedure
    base = config.source.parent if config.source else Path.cwd()
    blanks = []
    for name in procedure.template:
        path = Path(name).expanduser()
        try:
            blanks.append((path.name, read_blank(path if path.is_absolute() else base / path)))
        except ConfigError as exc:
            problems += [f"procedure.template: {p}" for p in exc.problems]
    wrong = [m.field for m in procedure.template_labels if m.field not in FIELD_NAMES]
    problems += [f"procedure.template_labels: campo sconosciuto {f!r} "
                 f"(ammessi: {', '.join(FIELD_NAMES)})" for f in wrong]
    if blanks:
        object.__setattr__(config, "vocabulary", config.vocabulary.with_templates(
            blanks, [(m.label, m.field) for m in procedure.template_labels]))


def _check(config: Config, problems: list[str]) -> None:
    sync = config.state.archive_sync
    if sync not in SYNC_MODES:
        problems.append(f"state.archive_sync: {sync!r} non previsto (ammessi: "
                        f"{', '.join(SYNC_MODES)})")
    elif sync == "syncfs" and not syncfs_usable():
        problems.append("state.archive_sync: syncfs non segnala ogni errore di scrittura su "
                        "questo sistema (serve Linux 5.17 o successivo): usare \"auto\" o "
                        "\"fsync\"")
    try:
        ZoneInfo(config.procedure.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = config.procedure.timezone
        problems.append(f"procedure.timezone: fuso orario sconosciuto {zone!r}")
        return
    if config.closing is not None and config.closing < config.deadline:
        problems.append("procedure.closing: la chiusura precede la scadenza (deadline)")
    if config.parser.timeout_seconds <= 0 or config.parser.memory_limit_mb < 64:
        problems.append("parser: timeout_seconds deve essere > 0 e memory_limit_mb almeno 64")
    if config.parser.message_budget_seconds < config.parser.timeout_seconds or (
            config.parser.max_candidates < 1):
        problems.append("parser: message_budget_seconds deve valere almeno timeout_seconds e "
                        "max_candidates almeno 1")
    problems.extend(config.smtp.problems())
    problems.extend(config.acknowledgements.problems(config.smtp))
    problems.extend(config.trust.problems())
