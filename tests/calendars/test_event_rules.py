"""Event rules on a controllable clock: blackouts, pre/post-event jobs, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from daemon.calendars.event_rules import (
    EventJob,
    EventJobKind,
    EventRulesConfig,
    EventTypeRules,
    entry_block_reason,
    event_jobs,
    make_entry_guard,
    merge_fire_times,
    post_event_fire_time,
    pre_event_fire_time,
)
from daemon.calendars.exchange import CalendarError, ExchangeCalendar
from daemon.calendars.macro import MacroCalendar, MacroEvent
from daemon.clock import NEW_YORK, VirtualClock
from daemon.scheduling.jobs import job_definitions, virtual_fire_times

PRE = EventJobKind.PRE_EVENT_HEDGE_CHECK
POST = EventJobKind.POST_EVENT_REEVALUATION


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def sessions() -> ExchangeCalendar:
    # explicit bounds: the tests must not depend on today's date
    return ExchangeCalendar(date(2005, 1, 1), date(2028, 12, 31))


@pytest.fixture(scope="module")
def shipped() -> MacroCalendar:
    return MacroCalendar.load()


RULES = EventRulesConfig()


def jobs_between(
    start: datetime,
    end: datetime,
    calendar: MacroCalendar,
    sessions: ExchangeCalendar,
    rules: EventRulesConfig = RULES,
) -> list[tuple[datetime, str, str, date]]:
    return [
        (j.fire_time, j.kind.value, j.event.kind, j.event.date)
        for j in event_jobs(start, end, calendar, rules, sessions)
    ]


# --------------------------------------------------------------------------- config


def test_defaults_and_lookup() -> None:
    assert RULES.enabled and RULES.shipped_calendar and RULES.user_calendar is None
    assert RULES.rules_for("FOMC").no_entry_before_hours == 48
    assert RULES.rules_for("CPI").no_entry_before_hours == 24
    assert RULES.rules_for("PPI").no_entry_before_hours == 18
    other = RULES.rules_for("Employment Situation")
    assert other.no_entry_before_hours == 0
    assert not other.pre_event_hedge_check and not other.post_event_reevaluation
    for kind in ("FOMC", "CPI", "PPI"):
        rules = RULES.rules_for(kind)
        assert rules.pre_event_hedge_check and rules.hedge_check_before_minutes == 30
        assert rules.post_event_reevaluation and rules.reevaluate_after_minutes == 30
    assert RULES.max_blackout() == timedelta(hours=48)


def test_config_from_toml_like_mapping_with_custom_kinds() -> None:
    cfg = EventRulesConfig.model_validate(
        {
            "user_calendar": "config/events.csv",
            "fomc": {"no_entry_before_hours": 72},
            "custom": {"Employment Situation": {"no_entry_before_hours": 20}},
        }
    )
    assert str(cfg.user_calendar) == "config/events.csv"
    assert cfg.rules_for("FOMC").no_entry_before_hours == 72
    assert cfg.rules_for("employment situation").no_entry_before_hours == 20
    assert cfg.rules_for("FOMC").hedge_check_before_minutes == 30
    assert cfg.max_blackout() == timedelta(hours=72)


@pytest.mark.parametrize(
    "data",
    [
        {"fomc": {"no_entry_before_hour": 48}},
        {"cpi": {"no_entry_before_hours": -1}},
        {"ppi": {"hedge_check_before_minutes": 5000}},
        {"session_buffer_minutes": 120},
        {"unknown": 1},
    ],
)
def test_config_rejects_typos_and_out_of_range_values(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EventRulesConfig.model_validate(data)


def test_load_calendar_uses_the_configured_files(tmp_path: Path) -> None:
    assert len(RULES.load_calendar()) == 687

    user = tmp_path / "u.csv"
    user.write_text("date,time_et,event\n2026-05-08,08:30,NFP\n")
    only_user = EventRulesConfig(shipped_calendar=False, user_calendar=user).load_calendar()
    assert [e.kind for e in only_user] == ["NFP"]


# --------------------------------------------------------------------------- FOMC day


def test_fomc_day_blocks_entries_and_runs_a_pre_event_hedge_check(
    shipped: MacroCalendar, sessions: ExchangeCalendar
) -> None:
    clock = VirtualClock(ny(2024, 3, 15, 15, 30))
    guard = make_entry_guard(shipped, RULES, clock.now)
    # Friday 15:30: 94.5 h before Wednesday 14:00 -> allowed
    assert guard(date(2024, 3, 15)) is None
    clock.advance_to(ny(2024, 3, 18, 15, 30))  # Monday, 46.5 h before
    assert guard(date(2024, 3, 18)) == (
        "FOMC 2024-03-20 14:00 ET (grade A) in 46.5 h: no new condor within 48 h before FOMC"
    )
    clock.advance_to(ny(2024, 3, 20, 8, 30))  # statement day morning
    assert guard(date(2024, 3, 20)) == (
        "FOMC 2024-03-20 14:00 ET (grade A) in 5.5 h: no new condor within 48 h before FOMC"
    )
    clock.advance_to(ny(2024, 3, 20, 13, 59))
    assert guard(date(2024, 3, 20)) is not None
    clock.advance_to(ny(2024, 3, 20, 14, 0))  # the statement is out: entries allowed again
    assert guard(date(2024, 3, 20)) is None
    clock.advance_to(ny(2024, 3, 20, 15, 30))
    assert guard(date(2024, 3, 20)) is None

    jobs = jobs_between(ny(2024, 3, 20), ny(2024, 3, 20, 23, 59), shipped, sessions)
    assert jobs == [
        (ny(2024, 3, 20, 13, 30), "pre_event_hedge_check", "FOMC", date(2024, 3, 20)),
        (ny(2024, 3, 20, 14, 30), "post_event_reevaluation", "FOMC", date(2024, 3, 20)),
    ]


def test_window_boundary_is_exactly_48_hours(shipped: MacroCalendar) -> None:
    assert entry_block_reason(ny(2024, 3, 18, 13, 59), shipped, RULES) is None
    reason = entry_block_reason(ny(2024, 3, 18, 14, 0), shipped, RULES)
    assert reason is not None and "in 48.0 h" in reason
    # any time zone for "now"
    assert entry_block_reason(datetime(2024, 3, 18, 18, 0, tzinfo=UTC), shipped, RULES)
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_block_reason(datetime(2024, 3, 18, 14, 0), shipped, RULES)


# --------------------------------------------------------------------------- CPI morning


def test_cpi_morning(shipped: MacroCalendar, sessions: ExchangeCalendar) -> None:
    # CPI Tue 2024-03-12 08:30: the Monday 15:30 entry (17 h before) is blocked
    monday = entry_block_reason(ny(2024, 3, 11, 15, 30), shipped, RULES)
    assert monday == (
        "CPI 2024-03-12 08:30 ET (grade B) in 17.0 h: no new condor within 24 h before CPI"
    )
    assert entry_block_reason(ny(2024, 3, 8, 15, 30), shipped, RULES) is None
    # the release is out at the 15:30 entry of the same day; PPI (Thu 08:30) is 41 h away
    assert entry_block_reason(ny(2024, 3, 12, 15, 30), shipped, RULES) is None
    jobs = jobs_between(ny(2024, 3, 11), ny(2024, 3, 12, 23, 59), shipped, sessions)
    assert jobs == [
        # 08:00 is before the open: the check moves to the previous session's close - 10 min
        (ny(2024, 3, 11, 15, 50), "pre_event_hedge_check", "CPI", date(2024, 3, 12)),
        # 09:00 is before the open: the re-evaluation waits for open + 10 min
        (ny(2024, 3, 12, 9, 40), "post_event_reevaluation", "CPI", date(2024, 3, 12)),
    ]


def test_ppi_blocks_only_the_afternoon_before(shipped: MacroCalendar) -> None:
    # PPI Thu 2024-03-14 08:30; 18 h window opens Wed 14:30
    assert entry_block_reason(ny(2024, 3, 13, 14, 29), shipped, RULES) is None
    reason = entry_block_reason(ny(2024, 3, 13, 15, 30), shipped, RULES)
    assert reason is not None and reason.startswith("PPI 2024-03-14 08:30 ET (grade A) in 17.0 h")


def test_ppi_and_fomc_on_the_same_day(shipped: MacroCalendar, sessions: ExchangeCalendar) -> None:
    # 2026-03-18: PPI 08:30 and FOMC 14:00; the earliest blocking event is named
    reason = entry_block_reason(ny(2026, 3, 17, 15, 30), shipped, RULES)
    assert reason is not None and reason.startswith("PPI 2026-03-18 08:30 ET (grade C)")
    after_ppi = entry_block_reason(ny(2026, 3, 18, 10, 0), shipped, RULES)
    assert after_ppi is not None and after_ppi.startswith("FOMC 2026-03-18 14:00 ET")
    kinds = [
        (k, e)
        for _, k, e, _ in jobs_between(ny(2026, 3, 17), ny(2026, 3, 18, 23), shipped, sessions)
    ]
    assert kinds == [
        ("pre_event_hedge_check", "PPI"),
        ("post_event_reevaluation", "PPI"),
        ("pre_event_hedge_check", "FOMC"),
        ("post_event_reevaluation", "FOMC"),
    ]


# --------------------------------------------------------------------------- holiday, early close


def test_cpi_on_good_friday_holiday(shipped: MacroCalendar, sessions: ExchangeCalendar) -> None:
    # BLS released CPI on Good Friday 2020-04-10 while NYSE was closed
    assert not sessions.is_session(date(2020, 4, 10))
    assert [e.kind for e in shipped.events_on(date(2020, 4, 10))] == ["CPI"]
    jobs = jobs_between(ny(2020, 4, 6), ny(2020, 4, 17), shipped, sessions)
    assert jobs == [
        (ny(2020, 4, 8, 15, 50), "pre_event_hedge_check", "PPI", date(2020, 4, 9)),
        (ny(2020, 4, 9, 9, 40), "post_event_reevaluation", "PPI", date(2020, 4, 9)),
        # the holiday's CPI: checked before Thursday's close, re-evaluated Monday
        (ny(2020, 4, 9, 15, 50), "pre_event_hedge_check", "CPI", date(2020, 4, 10)),
        (ny(2020, 4, 13, 9, 40), "post_event_reevaluation", "CPI", date(2020, 4, 10)),
    ]
    reason = entry_block_reason(ny(2020, 4, 9, 15, 30), shipped, RULES)
    assert reason is not None and reason.startswith("CPI 2020-04-10")


def test_early_close_moves_checks_inside_the_short_session(sessions: ExchangeCalendar) -> None:
    assert sessions.is_early_close(date(2026, 11, 27))
    cal = MacroCalendar.from_events(
        [
            # CPI on the Monday after the Thanksgiving early close
            MacroEvent(date(2026, 11, 30), time(8, 30), "CPI"),
            # a user event during the early-close session, rules enabled for it
            MacroEvent(date(2026, 11, 27), time(12, 45), "Retail Sales"),
        ]
    )
    rules = EventRulesConfig(custom={"retail sales": EventTypeRules(no_entry_before_hours=1)})
    got = jobs_between(ny(2026, 11, 23), ny(2026, 12, 4), cal, sessions, rules)
    assert got == [
        # Retail Sales 12:45: check at 12:15 fits inside 09:40-12:50
        (ny(2026, 11, 27, 12, 15), "pre_event_hedge_check", "Retail Sales", date(2026, 11, 27)),
        # CPI check: previous session closes at 13:00, so 12:50
        (ny(2026, 11, 27, 12, 50), "pre_event_hedge_check", "CPI", date(2026, 11, 30)),
        # Retail Sales re-evaluation at 13:15 is after the early close: next session's
        # 09:40, where it coalesces with the CPI's (09:00 -> 09:40); the earlier event is named
        (ny(2026, 11, 30, 9, 40), "post_event_reevaluation", "Retail Sales", date(2026, 11, 27)),
    ]


def test_christmas_eve_early_close_before_a_holiday(sessions: ExchangeCalendar) -> None:
    cal = MacroCalendar.from_events([MacroEvent(date(2026, 12, 28), time(8, 30), "CPI")])
    got = jobs_between(ny(2026, 12, 21), ny(2026, 12, 31), cal, sessions)
    assert [j[0] for j in got] == [ny(2026, 12, 24, 12, 50), ny(2026, 12, 28, 9, 40)]


def test_fire_time_helpers(sessions: ExchangeCalendar) -> None:
    # inside the band: unchanged; converted to New York
    inside = datetime(2024, 3, 20, 17, 30, tzinfo=UTC)
    assert pre_event_fire_time(inside, sessions) == ny(2024, 3, 20, 13, 30)
    assert pre_event_fire_time(inside, sessions).tzinfo is NEW_YORK
    # after the close on a session day: the same day's band end
    assert pre_event_fire_time(ny(2024, 3, 20, 16, 30), sessions) == ny(2024, 3, 20, 15, 50)
    # Saturday: Friday's band end / Monday's band start
    assert pre_event_fire_time(ny(2024, 3, 23, 12), sessions) == ny(2024, 3, 22, 15, 50)
    assert post_event_fire_time(ny(2024, 3, 23, 12), sessions) == ny(2024, 3, 25, 9, 40)
    zero = timedelta(0)
    assert post_event_fire_time(ny(2024, 3, 20, 9, 0), sessions, zero) == ny(2024, 3, 20, 9, 30)
    assert pre_event_fire_time(ny(2024, 3, 20, 16, 30), sessions, zero) == ny(2024, 3, 20, 16)


# --------------------------------------------------------------------------- DST


def test_jobs_keep_et_wall_time_on_both_sides_of_dst(
    shipped: MacroCalendar, sessions: ExchangeCalendar
) -> None:
    sept = event_jobs(ny(2024, 9, 18), ny(2024, 9, 18, 23), shipped, RULES, sessions)
    nov = event_jobs(ny(2024, 11, 7), ny(2024, 11, 7, 23), shipped, RULES, sessions)
    assert [j.fire_time.time() for j in sept] == [time(13, 30), time(14, 30)]
    assert [j.fire_time.time() for j in nov] == [time(13, 30), time(14, 30)]
    # same wall time, one hour apart in UTC (EDT vs EST)
    assert sept[0].fire_time.astimezone(UTC).time() == time(17, 30)
    assert nov[0].fire_time.astimezone(UTC).time() == time(18, 30)
    assert sept[0].job_id == "pre_event_hedge_check@2024-09-18T13:30:00-04:00"
    assert nov[0].job_id == "pre_event_hedge_check@2024-11-07T13:30:00-05:00"


def test_blackout_counts_elapsed_hours_across_spring_forward(shipped: MacroCalendar) -> None:
    # 72 h before CPI Tue 2024-03-12 08:30 EDT, across Sun 2024-03-10 02:00 -> 03:00
    rules = EventRulesConfig(cpi=EventTypeRules(no_entry_before_hours=72))
    assert entry_block_reason(ny(2024, 3, 9, 7, 29), shipped, rules) is None
    reason = entry_block_reason(ny(2024, 3, 9, 7, 30), shipped, rules)  # 07:30 EST
    assert reason is not None and "CPI 2024-03-12 08:30 ET" in reason and "in 72.0 h" in reason


def test_blackout_counts_elapsed_hours_across_fall_back(sessions: ExchangeCalendar) -> None:
    # a Tuesday 08:30 EST event, 72 h window across Sun 2024-11-03 02:00 -> 01:00
    cal = MacroCalendar.from_events([MacroEvent(date(2024, 11, 5), time(8, 30), "CPI")])
    rules = EventRulesConfig(cpi=EventTypeRules(no_entry_before_hours=72))
    assert entry_block_reason(ny(2024, 11, 2, 9, 29), cal, rules) is None
    assert entry_block_reason(ny(2024, 11, 2, 9, 30), cal, rules) is not None  # 09:30 EDT


# --------------------------------------------------------------------------- unscheduled


def test_unscheduled_events_do_not_leak_into_the_past(
    shipped: MacroCalendar, sessions: ExchangeCalendar
) -> None:
    # emergency FOMC cut, Sunday 2020-03-15 17:00, and Tuesday 2020-03-03 10:00
    assert entry_block_reason(ny(2020, 3, 2, 15, 30), shipped, RULES) is None
    got = jobs_between(ny(2020, 3, 13), ny(2020, 3, 16, 23), shipped, sessions)
    assert got == [
        (ny(2020, 3, 16, 9, 40), "post_event_reevaluation", "FOMC", date(2020, 3, 15)),
    ]
    rules = EventRulesConfig(act_before_unscheduled=True)
    reason = entry_block_reason(ny(2020, 3, 2, 15, 30), shipped, rules)
    assert reason == (
        "FOMC 2020-03-03 10:00 ET (grade A, unscheduled) in 18.5 h: "
        "no new condor within 48 h before FOMC"
    )
    got = jobs_between(ny(2020, 3, 13), ny(2020, 3, 16, 23), shipped, sessions, rules)
    assert got[0] == (ny(2020, 3, 13, 15, 50), "pre_event_hedge_check", "FOMC", date(2020, 3, 15))


def test_event_of_unknown_time_spans_its_day(
    shipped: MacroCalendar, sessions: ExchangeCalendar
) -> None:
    rules = EventRulesConfig(act_before_unscheduled=True)
    reason = entry_block_reason(ny(2008, 1, 22, 15, 30), shipped, rules)
    assert reason is not None
    assert reason.startswith("FOMC 2008-01-22 (time unknown) (grade A, unscheduled) today")
    assert entry_block_reason(ny(2008, 1, 23, 0, 0), shipped, rules) is None
    got = jobs_between(ny(2008, 1, 17), ny(2008, 1, 24), shipped, sessions, rules)
    assert [(f, k) for f, k, _, _ in got] == [
        # 30 min before 00:00 on Jan 22; Jan 21 was MLK day: Friday's band end
        (ny(2008, 1, 18, 15, 50), "pre_event_hedge_check"),
        (ny(2008, 1, 23, 9, 40), "post_event_reevaluation"),
    ]


# --------------------------------------------------------------------------- misc


def test_disabled_rules_do_nothing(shipped: MacroCalendar, sessions: ExchangeCalendar) -> None:
    off = EventRulesConfig(enabled=False)
    assert entry_block_reason(ny(2024, 3, 20, 8, 30), shipped, off) is None
    assert event_jobs(ny(2024, 3, 1), ny(2024, 3, 31), shipped, off, sessions) == []


def test_bounds_are_validated(shipped: MacroCalendar, sessions: ExchangeCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        event_jobs(datetime(2024, 3, 1), ny(2024, 3, 2), shipped, RULES, sessions)
    with pytest.raises(ValueError, match="before start"):
        event_jobs(ny(2024, 3, 2), ny(2024, 3, 1), shipped, RULES, sessions)


def test_calendar_range_edge(shipped: MacroCalendar) -> None:
    short = ExchangeCalendar(date(2024, 1, 1), date(2024, 3, 13))
    # the PPI of 2024-03-14 lies beyond the exchange calendar: skipped near the edge ...
    got = event_jobs(ny(2024, 3, 11), ny(2024, 3, 13), shipped, RULES, short)
    assert [j.event.kind for j in got] == ["CPI", "CPI"]
    # ... but an event inside the requested range that needs unknown sessions is an error
    with pytest.raises(CalendarError):
        event_jobs(ny(2024, 3, 11), ny(2024, 3, 14, 23), shipped, RULES, short)


def test_merge_with_the_daily_cron_fires_for_replay(
    shipped: MacroCalendar, sessions: ExchangeCalendar
) -> None:
    start, end = ny(2024, 3, 19), ny(2024, 3, 20, 23, 59)
    daily = job_definitions(time(15, 30), time(15, 40), time(15, 45), time(16, 15))
    regular = virtual_fire_times(daily, sessions.sessions(start.date(), end.date()))
    extra = event_jobs(start, end, shipped, RULES, sessions)
    merged = list(merge_fire_times(regular, extra))
    times = [f for f, _ in merged]
    assert times == sorted(times)
    names = [j.kind.value if isinstance(j, EventJob) else j.name.value for _, j in merged]
    assert names == [
        "entry", "hedge_check", "manage", "mark",  # Tue 19
        "pre_event_hedge_check", "post_event_reevaluation",  # Wed 20, 13:30 / 14:30
        "entry", "hedge_check", "manage", "mark",
    ]  # fmt: skip


def test_docs_toml_example_is_valid_and_shows_the_defaults() -> None:
    import re
    import tomllib

    doc = (Path(__file__).parents[2] / "docs" / "calendars.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert match is not None
    example = EventRulesConfig.model_validate(tomllib.loads(match.group(1))["events"])
    assert example == EventRulesConfig(custom=example.custom)
    assert example.rules_for("Employment Situation").no_entry_before_hours == 20
