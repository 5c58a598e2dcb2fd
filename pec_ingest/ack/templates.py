"""The acknowledgement's words: Jinja2 templates, staff's folder first, then the package's.

Three templates make one acknowledgement: ``ack_subject.txt.j2`` (one line), ``ack.txt.j2``
(plain text) and ``ack.html.j2`` (HTML, autoescaped). Staff override any of them by putting a
file of the same name in ``acknowledgements.templates_dir``; the others keep the defaults in
``pec_ingest/templates``. Undefined names are errors, so a typo in an override is reported
instead of sending an acknowledgement with a hole in it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

SUBJECT = "ack_subject.txt.j2"
TEXT = "ack.txt.j2"
HTML = "ack.html.j2"


class TemplateProblem(Exception):
    """A template is missing or wrong; the message names it."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".html", ".htm"))


@functools.lru_cache(maxsize=8)
def environment(templates_dir: str = "") -> jinja2.Environment:
    """The environment for an override folder (``""``: the package's templates only)."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(templates_dir, encoding="utf-8"))
    loaders.append(jinja2.PackageLoader("pec_ingest", "templates"))
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=_autoescape,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def render(context: Mapping[str, Any], templates_dir: str = "") -> Rendered:
    """Subject, text and HTML of one acknowledgement; TemplateProblem when a template fails."""
    env = environment(templates_dir)
    try:
        subject = env.get_template(SUBJECT).render(context)
        text = env.get_template(TEXT).render(context)
        html = env.get_template(HTML).render(context)
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or getattr(exc, "name", None) or "modello"
        raise TemplateProblem(f"modello della ricevuta {where}: {exc}") from exc
    return Rendered(" ".join(subject.split()), text, html)
