"""``alvh run`` (paper) on the fake TWS reads the hedge signals from IB bars and the journal.

The daemon's own start-up builds the IB adapter and the live signal source
(``run_live`` with ``[broker]`` pointing at the fake); the hedge-check job of a
drill at 15:30 reads the signals (the window ends the previous session,
back-filled from IB and journaled); a restart at 16:20 runs the mark job,
which journals the session's row with NYSE breadth, and a hedge check then
reads a window ending at the session itself, from the journal, with fewer
requests.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon import live
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK
from daemon.config import load_config
from daemon.engine import TradingEngine
from daemon.journal import Journal
from daemon.live import LiveOptions, run_live
from daemon.scheduling.jobs import JobName
from strategies.signals import HedgeSignals
from tests.fake_tws import FakeTWS, In, Scenario
from tests.fake_tws.history import DEFAULT_BREADTH, add_signal_history, synthetic_close
from tests.service.test_shutdown import Log, Notifier

SESSION = date(2026, 11, 20)  # a Friday session
CAL = default_calendar()


class Recorder:
    """Engines the daemon built, and the signals their hedge checks read."""

    def __init__(self) -> None:
        self.engines: list[TradingEngine] = []
        self.signals: list[HedgeSignals | None] = []


def recording_engine(recorder: Recorder, stop: asyncio.Event, last_job: JobName) -> type:
    class Engine(TradingEngine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            recorder.engines.append(self)

        async def run_job(self, job: JobName, trigger: str | None = None) -> None:
            if job is JobName.HEDGE_CHECK:
                # what the hedge decision reads (the ladder puts it in its inputs)
                recorder.signals.append(await self.current_signals())
            try:
                await super().run_job(job, trigger)
            finally:
                if job is last_job:
                    stop.set()

    return Engine


async def run_once(
    monkeypatch: pytest.MonkeyPatch, port: int, now: datetime, jobs: tuple[JobName, ...]
) -> tuple[int, Recorder, Log]:
    monkeypatch.setenv("ALVH_BROKER__HOST", "127.0.0.1")
    monkeypatch.setenv("ALVH_BROKER__PORT", str(port))
    monkeypatch.setenv("ALVH_BROKER__QUOTE_TIMEOUT_S", "1")
    recorder, stop, log = Recorder(), asyncio.Event(), Log()
    monkeypatch.setattr(live, "TradingEngine", recording_engine(recorder, stop, jobs[-1]))
    options = LiveOptions(now=now, run_jobs=jobs)
    code = await asyncio.wait_for(
        run_live(load_config(None), log, options, None, Notifier(), stop), 90
    )
    return code, recorder, log


async def test_paper_run_hedge_check_reads_signals_from_ib_and_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_path = tmp_path / "alvh.sqlite"
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(journal_path))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    async with FakeTWS(add_signal_history(Scenario(today=SESSION))) as tws:
        during = datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK)
        code, rec, _log = await run_once(monkeypatch, tws.port, during, (JobName.HEDGE_CHECK,))
        assert code == 0
        [engine] = rec.engines
        assert engine.signal_source is not None
        [signals] = rec.signals
        assert signals is not None
        yesterday = CAL.previous_session(SESSION)
        assert signals.session == SESSION and signals.as_of == yesterday
        assert signals.vix == synthetic_close("VIX", yesterday)
        assert math.isfinite(signals.vix_rsi) and math.isfinite(signals.vvix_macd_hist)
        assert math.isfinite(signals.m1_m2_spread)
        assert signals.vix_regime in ("calm", "elevated", "stressed")
        assert engine.signal_params == load_config(None).signals.to_params()
        cold = len(tws.messages(In.REQ_HISTORICAL_DATA))
        assert cold >= 3

        # restart after the close: the mark job journals the session's row
        after = datetime(2026, 11, 20, 16, 20, tzinfo=NEW_YORK)
        jobs = (JobName.MARK, JobName.HEDGE_CHECK)
        code, rec, log = await run_once(monkeypatch, tws.port, after, jobs)
        assert code == 0
        [signals] = rec.signals
        assert signals is not None and signals.as_of == SESSION
        assert signals.vix == synthetic_close("VIX", SESSION)
        assert "market_day_recorded" in log.names()
        warm = len(tws.messages(In.REQ_HISTORICAL_DATA)) - cold
        assert warm < cold  # the journal had every earlier session

    with Journal.open(journal_path, read_only=True) as journal:
        [row] = journal.market_days(SESSION, SESSION)
        assert row.source == "mark"
        assert (row.advancing, row.declining) == DEFAULT_BREADTH[:2]
        earlier = journal.market_days(date(2025, 1, 1), yesterday)
        assert len(earlier) == 250 and {r.source for r in earlier} == {"ib_bars"}
