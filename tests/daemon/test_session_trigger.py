"""The jobs' APScheduler trigger: sessions only, close-keyed jobs follow early closes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK
from daemon.scheduling.jobs import SessionTrigger

CAL = default_calendar()


def ny(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK)


def test_close_keyed_jobs_move_with_the_early_close() -> None:
    black_friday = date(2019, 11, 29)
    assert CAL.is_early_close(black_friday)
    entry, mark = SessionTrigger(time(15, 30), CAL), SessionTrigger(time(16, 15), CAL)
    assert entry.get_next_fire_time(None, ny(black_friday, 0, 0)) == ny(black_friday, 12, 30)
    assert mark.get_next_fire_time(None, ny(black_friday, 0, 0)) == ny(black_friday, 13, 15)
    # A regular session keeps the configured time.
    assert entry.get_next_fire_time(None, ny(date(2019, 12, 2), 0, 0)) == ny(
        date(2019, 12, 2), 15, 30
    )


def test_morning_jobs_are_not_keyed_to_the_close() -> None:
    christmas_eve = date(2024, 12, 24)
    assert CAL.is_early_close(christmas_eve)
    morning = SessionTrigger(time(10, 0), CAL)
    assert morning.get_next_fire_time(None, ny(christmas_eve, 0, 0)) == ny(christmas_eve, 10, 0)


def test_holidays_and_weekends_are_skipped() -> None:
    trigger = SessionTrigger(time(15, 30), CAL)
    # Thursday 2024-07-04 is a holiday; the next fire after Wednesday's is Friday's.
    wednesday = trigger.get_next_fire_time(None, ny(date(2024, 7, 3), 0, 0))
    assert wednesday is not None
    friday = trigger.get_next_fire_time(wednesday, wednesday + timedelta(seconds=1))
    assert friday == ny(date(2024, 7, 5), 15, 30)
    monday = trigger.get_next_fire_time(friday, friday + timedelta(seconds=1))
    assert monday == ny(date(2024, 7, 8), 15, 30)


def test_chained_fires_keep_new_york_wall_time_across_dst() -> None:
    trigger = SessionTrigger(time(15, 30), CAL)
    before = trigger.get_next_fire_time(None, ny(date(2024, 3, 8), 0, 0))
    assert before is not None
    after = trigger.get_next_fire_time(before, before + timedelta(seconds=1))
    assert after is not None
    assert (before.utcoffset(), after.utcoffset()) == (timedelta(hours=-5), timedelta(hours=-4))
    assert after.astimezone(NEW_YORK).time() == time(15, 30)


def test_a_start_after_the_moved_fire_waits_for_the_next_session() -> None:
    # Started at 12:45 on an early close: today's 12:30 entry has passed.
    trigger = SessionTrigger(time(15, 30), CAL)
    nxt = trigger.get_next_fire_time(None, ny(date(2019, 11, 29), 12, 45))
    assert nxt == ny(date(2019, 12, 2), 15, 30)
