"""The journal's exception."""

from __future__ import annotations

import sqlite3

__all__ = ["DAMAGED_JOURNAL_ERRORS", "JournalError", "damaged"]


class JournalError(RuntimeError):
    """The journal file cannot be used, or a record would break its invariants."""


#: What reading a damaged or foreign journal can raise below the journal's own
#: checks: SQLite errors (a malformed page, text that is not UTF-8) and bad
#: values in otherwise valid rows (JSON that does not parse, a date that is
#: not a date, a missing key, a value of the wrong type or shape).
DAMAGED_JOURNAL_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.Error,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    ArithmeticError,
)


def damaged(path: object, exc: BaseException) -> JournalError:
    """A one-line :class:`JournalError` for ``exc`` raised while reading the journal ``path``."""
    text = " ".join(str(exc).split())[:200]
    return JournalError(
        f"{path}: cannot read the journal, it is damaged or was not written by alvh "
        f"({type(exc).__name__}: {text}); `sqlite3 {path} 'PRAGMA integrity_check'` "
        "tells more"
    )
