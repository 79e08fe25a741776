"""GRID.toml: the product, samples, and one-line errors naming the key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.sweep.grid import GridError, load_grid
from daemon.sweep.walkforward import parse_spec, windows


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield


def _grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


GRID = """
[grid]
"condor.short_delta" = [0.12, 0.16, 0.20]
"condor.target_dte" = [10, 14]

[replay]
starting_cash = 500000
"""


def test_product_order_last_key_fastest(tmp_path: Path) -> None:
    grid = load_grid(_grid(tmp_path, GRID))
    assert grid.size == 6
    points = grid.points()
    assert [p.params for p in points[:3]] == [
        {"condor.short_delta": 0.12, "condor.target_dte": 10},
        {"condor.short_delta": 0.12, "condor.target_dte": 14},
        {"condor.short_delta": 0.16, "condor.target_dte": 10},
    ]
    last = points[5]
    assert last.index == 5
    assert last.config.condor.short_delta == 0.20 and last.config.condor.target_dte == 14
    assert last.config.replay.starting_cash == 500000  # the base config applies to every point


def test_sample_is_reproducible_and_without_repeats(tmp_path: Path) -> None:
    grid = load_grid(_grid(tmp_path, GRID))
    a, b = grid.indices(4, seed=7), grid.indices(4, seed=7)
    assert a == b and len(set(a)) == 4 and a == sorted(a)
    assert grid.indices(4, seed=8) != a or grid.indices(4, seed=9) != a
    assert grid.indices(100) == list(range(6))


def test_toml_dotted_keys_and_subtables_mean_the_same(tmp_path: Path) -> None:
    grid = load_grid(_grid(tmp_path, "[grid.condor]\nshort_delta = [0.12, 0.16]\n"))
    assert grid.axes == {"condor.short_delta": [0.12, 0.16]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[condor]\nshort_delta = 0.1\n", "no [grid] table"),
        ('[grid]\n"condor.short_delta" = 0.12\n', "[grid] condor.short_delta: must be a non-empty"),
        ('[grid]\n"condor.short_delta" = []\n', "[grid] condor.short_delta: must be a non-empty"),
        ('[grid]\n"short_delta" = [0.1]\n', "[grid] short_delta: not a dotted config key"),
        ('[grid]\n"condor.short_delta" = [0.1, 0.1]\n', "condor.short_delta: lists 0.1 twice"),
        ("[grid\n", "invalid TOML"),
    ],
)
def test_bad_grid(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(GridError) as info:
        load_grid(_grid(tmp_path, text))
    message = str(info.value)
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[grid]\n"condor.short_delta" = [0.16, 0.9]\n', "condor.short_delta: must be"),
        ('[grid]\n"condor.shortdelta" = [0.16]\n', "condor.shortdelta: unknown key"),
        ('[grid]\n"condor.short_delta" = [0.16]\n[condor]\nwings = 3\n', "condor.wings: unknown"),
    ],
)
def test_bad_point_config_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    grid = load_grid(_grid(tmp_path, text))
    with pytest.raises(GridError) as info:
        grid.points()
    assert expected in str(info.value) and "[grid] point" in str(info.value)


def test_cli_bad_value_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _grid(tmp_path, '[grid]\n"condor.short_delta" = [0.16, 0.9]\n')
    rc = main(
        [
            "sweep",
            str(path),
            "--start",
            "2019-01-02",
            "--end",
            "2019-03-29",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("alvh sweep: ") and "condor.short_delta" in err[0]
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--walk-forward", "3"], "give TRAIN:TEST years"),
        (["--walk-forward", "3:1"], "spans no 3 training year(s)"),
        (["--sample", "0"], "--sample must be at least 1"),
    ],
)
def test_cli_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    path = _grid(tmp_path, GRID)
    rc = main(["sweep", str(path), "--start", "2019-01-02", "--end", "2019-03-29", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and expected in err[0]


def test_cli_range_outside_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sweep", str(_grid(tmp_path, GRID)), "--start", "1980-01-02", "--end", "1980-03-31"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "1980" in err[0]


def test_walk_forward_windows() -> None:
    from datetime import date

    assert parse_spec("3:1") == (3, 1) and parse_spec("2,2") == (2, 2)
    spans = windows(date(2007, 1, 3), date(2012, 6, 29), 3, 1)
    assert [(w.train_start, w.train_end, w.test_start, w.test_end) for w in spans] == [
        (date(2007, 1, 3), date(2009, 12, 31), date(2010, 1, 1), date(2010, 12, 31)),
        (date(2008, 1, 1), date(2010, 12, 31), date(2011, 1, 1), date(2011, 12, 31)),
        (date(2009, 1, 1), date(2011, 12, 31), date(2012, 1, 1), date(2012, 6, 29)),
    ]
    assert windows(date(2019, 1, 2), date(2019, 12, 31), 1, 1) == []
