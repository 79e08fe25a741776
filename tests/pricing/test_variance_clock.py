"""The O(1) weekend-only variance clock equals the day-by-day one."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from strategies.pricing.spx_surface import SpxSurfaceParams, variance_days
from strategies.pricing.variance_clock import _variance_days_loop

PARAMS = SpxSurfaceParams()
# A holiday far outside every window forces the general (day-by-day) path
# without changing the count.
FAR_AWAY = frozenset({date(1900, 1, 1)})


@given(
    session=st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31)),
    days=st.floats(min_value=0.0, max_value=400.0, allow_nan=False),
)
def test_closed_form_matches_day_by_day_count(session: date, days: float) -> None:
    t = days / 365.0
    fast = variance_days(session, t, PARAMS)
    slow = variance_days(session, t, PARAMS, holidays=FAR_AWAY)
    assert abs(fast - slow) < 1e-9


def test_a_week_from_friday_counts_two_weekend_days_at_their_weight() -> None:
    friday = date(2024, 3, 8)
    assert friday.weekday() == 4
    week = variance_days(friday, 7 / 365.0, PARAMS)
    assert abs(week - (5 + 2 * PARAMS.nonsession_weight)) < 1e-12
    # Half of Saturday: the partial day counts at the weekend weight.
    assert abs(variance_days(friday, 0.5 / 365.0, PARAMS) - 0.5 * PARAMS.nonsession_weight) < 1e-12
    assert variance_days(friday + timedelta(days=1), 0.0, PARAMS) == 0.0


_EVENT_DAYS = st.dictionaries(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2021, 6, 30)),
    st.sampled_from([("CPI",), ("FOMC",), ("CPI", "FOMC"), ("NFP",)]),
    max_size=12,
)


@given(
    session=st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 12, 31)),
    days=st.floats(min_value=0.0, max_value=250.0, allow_nan=False),
    holidays=st.frozensets(st.dates(min_value=date(2020, 1, 1), max_value=date(2021, 6, 30))),
    events=_EVENT_DAYS,
)
def test_running_totals_equal_the_day_by_day_loop_bit_for_bit(
    session: date, days: float, holidays: frozenset[date], events: dict[date, tuple[str, ...]]
) -> None:
    # The replay's speed work must not move a quote: the cached clock adds the
    # same terms in the same order as the loop, so the floats are identical.
    t = days / 365.0
    holidays = holidays | FAR_AWAY  # the calendar path (no calendar: the O(1) weekday count)
    assert variance_days(session, t, PARAMS, holidays, events) == _variance_days_loop(
        session, t, PARAMS, holidays, events
    )
