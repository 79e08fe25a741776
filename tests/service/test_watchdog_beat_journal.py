"""Watchdog beats are journaled, so the dashboard and ``alvh status`` can show the last one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from daemon.journal import Journal
from daemon.service import LoopWatchdog
from daemon.status import collect_status


class _Notifier:
    def __init__(self) -> None:
        self.sent = 0

    def watchdog(self) -> bool:
        self.sent += 1
        return True


def test_a_beat_is_journaled_and_a_failing_recorder_never_stops_the_beats(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite")
    run_id = journal.start_run(mode="paper", config_json="{}")
    stamps = iter([datetime(2026, 11, 30, 15, 0, s, tzinfo=UTC) for s in range(0, 60, 1)])
    calls: list[int] = []

    def record() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        journal.record_watchdog_beat(next(stamps))

    notifier = _Notifier()
    dog = LoopWatchdog(notifier, 0.4, tick_s=0.01, on_beat=record)  # type: ignore[arg-type]

    async def run() -> None:
        dog.start()
        await asyncio.sleep(0.75)
        await dog.stop()

    asyncio.run(run())
    assert dog.beats >= 3 and len(calls) == dog.beats  # the failing call did not stop it
    beat = journal.watchdog_beat()
    assert beat is not None and beat.startswith("2026-11-30T15:00:0")
    report = collect_status(journal, run_id, macro=False)
    assert report["last_watchdog_beat"] == beat
    journal.close()
