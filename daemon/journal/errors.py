"""The journal's exception."""

from __future__ import annotations

__all__ = ["JournalError"]


class JournalError(RuntimeError):
    """The journal file cannot be used, or a record would break its invariants."""
