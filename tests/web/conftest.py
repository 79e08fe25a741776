"""Journals for the dashboard tests: a real replay and a paper run against the fake TWS.

Both are made once per session (a replay of March 2019 takes about a second;
the paper run, ``alvh run`` as a user starts it against the fake gateway on
127.0.0.1 with ``--run-job entry --run-job hedge_check --run-job mark``,
about ten). Tests copy neither: the dashboard must leave them unchanged,
which the read-only tests check byte for byte.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.logs import bind_clock, configure_logging, get_logger
from daemon.replay import run_replay
from tests.fake_tws import FakeTWS, Scenario

#: A Friday session; the drill clock of the paper run.
TRADING_DAY = date(2026, 11, 20)
DRILL_NOW = "2026-11-20T15:30:00-05:00"
ALVH = [sys.executable, "-c", "import sys; from daemon.cli import main; sys.exit(main())"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``ALVH_*`` variable of the developer's shell reaches the code under test."""
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield
    bind_clock(None)


@pytest.fixture(scope="session")
def replay_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal written by ``run_replay`` over March 2019 (21 sessions; a condor and a
    hedge layer open at the end)."""
    path = tmp_path_factory.mktemp("web-replay") / "replay.sqlite"
    configure_logging("warning", "json", io.StringIO())
    result = asyncio.run(
        run_replay(load_config(None), date(2019, 3, 1), date(2019, 3, 29), path, get_logger("t"))
    )
    bind_clock(None)
    assert result.sessions == 21
    return path


@pytest.fixture(scope="session")
def paper_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal written by ``alvh run`` (paper) against the fake TWS: entry, hedge check
    and mark jobs on the drill day, then SIGTERM (the run is finished cleanly)."""
    path = tmp_path_factory.mktemp("web-paper") / "alvh.sqlite"
    asyncio.run(_paper_run(path))
    return path


async def _paper_run(path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALVH_", "NOTIFY_SOCKET"))}
    env.update(
        ALVH_JOURNAL__PATH=str(path),
        ALVH_LOGGING__FORMAT="json",
        ALVH_BROKER__WALK_INTERVAL_S="0.2",
        ALVH_BROKER__QUOTE_TIMEOUT_S="2",
    )
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        proc = await asyncio.create_subprocess_exec(
            *ALVH, "run", "--host", "127.0.0.1", "--port", str(tws.port),
            "--run-job", "entry", "--run-job", "hedge_check", "--run-job", "mark",
            "--now", DRILL_NOW,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            async with asyncio.timeout(120):
                while not _has_daily_row(path):
                    if proc.returncode is not None:
                        break
                    await asyncio.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stderr is not None
        err = (await proc.stderr.read()).decode(errors="replace")
    assert code == 0, err
    assert _has_daily_row(path), err


def _has_daily_row(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.1)
        try:
            return bool(conn.execute("SELECT COUNT(*) FROM daily").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return False
