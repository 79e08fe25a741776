"""Macro-event rules inside a real replay: the same engine path live trading uses.

Replays the week of the 2018-01-31 FOMC decision (14:00 ET) and the CPI
release of 2018-02-14 (08:30 ET) and reads the journal back.
"""

from __future__ import annotations

import asyncio
import io
from datetime import date
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.journal import DecisionRecord, Journal
from daemon.logs import configure_logging, get_logger
from daemon.replay import run_replay
from strategies.domain import Action


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> list[DecisionRecord]:
    path: Path = tmp_path_factory.mktemp("events") / "journal.sqlite"
    configure_logging("info", "json", io.StringIO())
    result = asyncio.run(
        run_replay(load_config(None), date(2018, 1, 22), date(2018, 2, 16), path, get_logger("t"))
    )
    with Journal.open(path, read_only=True) as journal:
        return journal.decisions(result.run_id)


def _on(decisions: list[DecisionRecord], day: date) -> list[DecisionRecord]:
    return [d for d in decisions if d.session == day]


def test_entries_are_blocked_in_the_48_hours_before_fomc(decisions: list[DecisionRecord]) -> None:
    blocked = [
        d
        for d in decisions
        if d.decision.rule == "condor_entry" and "FOMC 2018-01-31 14:00 ET" in d.decision.reason
    ]
    assert {d.session for d in blocked} == {date(2018, 1, 29), date(2018, 1, 30)}
    assert all(d.decision.action is Action.SKIP for d in blocked)
    assert all("within 48 h before FOMC" in d.decision.reason for d in blocked)


def test_fomc_day_runs_a_hedge_check_before_and_a_reevaluation_after(
    decisions: list[DecisionRecord],
) -> None:
    fomc_day = _on(decisions, date(2018, 1, 31))
    before = [
        d for d in fomc_day if d.decision.reason.startswith("hedge check before FOMC 2018-01-31")
    ]
    after = [
        d for d in fomc_day if d.decision.reason.startswith("re-evaluation after FOMC 2018-01-31")
    ]
    assert before and after
    assert all(
        str(d.decision.inputs["trigger"]).startswith("hedge check before FOMC") for d in before
    )
    # The pre-event check (13:30 ET) is journaled before the re-evaluation (14:30 ET).
    assert max(d.time for d in before) < min(d.time for d in after)


def test_cpi_morning_is_checked_the_session_before(decisions: list[DecisionRecord]) -> None:
    # 08:30 ET CPI is before the open: its hedge check runs at the previous session's end.
    checks = [
        d for d in decisions if d.decision.reason.startswith("hedge check before CPI 2018-02-14")
    ]
    assert checks and {d.session for d in checks} == {date(2018, 2, 13)}
    blocked = [
        d
        for d in decisions
        if d.decision.rule == "condor_entry" and "CPI 2018-02-14" in d.decision.reason
    ]
    assert blocked and all(d.decision.action is Action.SKIP for d in blocked)
