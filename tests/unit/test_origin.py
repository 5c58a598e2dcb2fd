"""Who raised it: a library failing on bad input, or our own code (a bug)."""

from __future__ import annotations

import email.policy

import pytest

from parsers.origin import raised_by_library, raised_within


def _ours() -> None:
    [][1]  # an IndexError of our own


def test_our_own_errors_are_not_the_library_s() -> None:
    with pytest.raises(IndexError) as ours:
        _ours()
    assert not raised_by_library(ours.value, ("email",))
    assert not raised_within(ours.value, ("email",))


def test_an_error_from_inside_the_email_package_is_the_library_s() -> None:
    with pytest.raises(Exception) as theirs:  # whatever the parser raises
        email.policy.default.header_fetch_parse("Content-Type", 5)  # type: ignore[arg-type]
    assert raised_within(theirs.value, ("email",))
    assert not raised_within(theirs.value, ("pdfminer",))
