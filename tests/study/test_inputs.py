"""Benchmark files, monthly SPX expiries and the variants' configurations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from daemon.brokers.monthly import monthly_expiry, spx_monthly_expiries, third_friday
from daemon.calendars.exchange import default_calendar
from daemon.config import AlvhConfig, load_config
from daemon.study.benchmarks import BenchmarkError, read_cndr, read_sp500tr, read_tbill
from daemon.study.variants import CNDR_OVERRIDES, apply_overrides, study_variants

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "study"


def test_reads_the_benchmark_layouts() -> None:
    cndr = read_cndr(FIXTURES / "cndr_synthetic.csv")
    assert cndr.dates[0] == date(2018, 12, 3) and len(cndr.dates) == 150
    tr = read_sp500tr(FIXTURES / "sp500tr_synthetic.csv")
    assert tr.values[0] > 0
    tbill = read_tbill(FIXTURES / "dtb3_synthetic.csv")
    # 2.40 % discount -> bond-equivalent yield 365 d / (360 - 91 d), d = 0.024
    bey = 365 * 0.024 / (360 - 91 * 0.024)
    assert tbill.values[0] == pytest.approx(bey)
    assert date(2018, 12, 25) not in tbill.dates  # empty value skipped
    # carried forward over the empty day
    assert tbill.on([date(2018, 12, 25)]) == [pytest.approx(bey)]
    part = cndr.between(date(2019, 1, 1), date(2019, 1, 31))
    assert part.dates[0].month == 1 and part.dates[-1].month == 1


def test_cboe_us_dates_are_read(tmp_path: Path) -> None:
    path = tmp_path / "CNDR_History.csv"
    path.write_text("DATE,CNDR\n01/02/2019,700.5\n01/03/2019,701.0\n", encoding="utf-8")
    assert read_cndr(path).dates == (date(2019, 1, 2), date(2019, 1, 3))


def test_bad_benchmark_files_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,CNDR\n2019-01-02,700\n2019-13-40,701\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"bad\.csv line 3: bad date"):
        read_cndr(bad)
    backwards = tmp_path / "back.csv"
    backwards.write_text("date,close\n2019-01-03,1\n2019-01-02,2\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="line 3: date 2019-01-02 not after"):
        read_sp500tr(backwards)
    with pytest.raises(BenchmarkError, match=r"missing\.csv"):
        read_cndr(tmp_path / "missing.csv")


def test_monthly_spx_expiries_are_third_fridays() -> None:
    is_session = default_calendar().is_session
    assert third_friday(2019, 3) == date(2019, 3, 15)
    assert third_friday(2020, 5) == date(2020, 5, 15)
    # Good Friday 2014-04-18: the April 2014 monthly expired on Thursday
    assert monthly_expiry(2014, 4, is_session) == date(2014, 4, 17)
    # from a roll day the only monthly 25-40 DTE away is the next one (28 or 35 days)
    assert spx_monthly_expiries(date(2019, 3, 15), 25, 40, is_session) == [date(2019, 4, 18)]
    assert spx_monthly_expiries(date(2019, 5, 17), 25, 40, is_session) == [date(2019, 6, 21)]
    assert spx_monthly_expiries(date(2019, 5, 17), 1, 70, is_session) == [
        date(2019, 6, 21),
        date(2019, 7, 19),
    ]
    with pytest.raises(ValueError, match="bad DTE window"):
        spx_monthly_expiries(date(2019, 5, 17), 5, 1, is_session)


def test_every_variant_is_a_valid_config() -> None:
    base = load_config(None)
    variants = study_variants()
    names = [v.name for v in variants]
    assert names[:2] == ["alvh", "unhedged"]
    assert {"fill_mid", "fill_natural", "cndr_replica"} <= set(names)
    assert len(names) == len(set(names))
    for variant in variants:
        config = apply_overrides(base, variant.overrides)
        assert isinstance(config, AlvhConfig)
        for section, values in variant.overrides.items():
            for key, value in values.items():
                assert getattr(getattr(config, section), key) == value, (variant.name, key)
    unhedged = apply_overrides(base, variants[1].overrides)
    assert unhedged.hedge.enabled is False and unhedged.condor == base.condor


def test_cndr_replica_rules() -> None:
    config = apply_overrides(load_config(None), CNDR_OVERRIDES)
    rules = config.condor.to_rules()
    assert rules.trading_class == "SPX"
    assert (rules.short_delta, rules.wing_mode, rules.wing_delta) == (0.20, "delta", 0.05)
    assert config.hedge.enabled is False
    assert config.adjust.wing_shift_enabled is False and config.adjust.roll_enabled is False


def test_a_bad_override_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_overrides(load_config(None), {"condor": {"short_delta": 0.9}})
    with pytest.raises(ValueError, match="no config section"):
        apply_overrides(load_config(None), {"nonsense": {"x": 1}})
