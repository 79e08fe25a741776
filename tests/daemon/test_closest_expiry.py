"""The expiry a broker quotes when told a target DTE (shared by the IB and simulated brokers)."""

from __future__ import annotations

from datetime import date

from daemon.brokers.base import closest_expiry

SESSION = date(2024, 3, 1)


def test_picks_the_expiry_nearest_the_target() -> None:
    expiries = [date(2024, 3, 8), date(2024, 3, 15), date(2024, 3, 22)]  # 7, 14, 21 DTE
    assert closest_expiry(expiries, SESSION, 13) == [date(2024, 3, 15)]


def test_ties_go_to_the_shorter_dte_like_the_entry_rule() -> None:
    expiries = [date(2024, 3, 14), date(2024, 3, 16)]  # 13 and 15 DTE around a target of 14
    assert closest_expiry(expiries, SESSION, 14) == [date(2024, 3, 14)]


def test_no_expiries_gives_none() -> None:
    assert closest_expiry([], SESSION, 14) == []
