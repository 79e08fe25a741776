"""Fit and check the strike-listing model on the real Cboe chains.

Usage::

    .venv/bin/python scripts/fit_strike_listing.py [--chains DIR] [--vix-chains DIR]
        [--write] [--fixture PATH]

Reads every chain file (layout in ``../shared/data/SOURCES.md``, "chains/"),
keeping *every* row (listed strikes, quoted or not) from the option symbols
(trading class, expiry) and the Strike column. Spot is the file's ``Last:``
line; VIX and the VIX futures of the quote date come from the bundled history.

SPX fit (SPXW expiries up to :data:`MAX_FIT_DTE` days): for each expiry,
step ``s`` of :data:`strategies.pricing.strike_listing.SPX_STEPS` and side,
the *cover* is how far from spot (fraction of spot) the multiples of ``s``
run without a gap. The band edge of an (expiry kind, DTE bucket, step, side)
is the median cover over the chains' expiries in that cell (an empty cell
takes the nearest bucket's edges). ``--write`` rewrites the table in
``strategies/pricing/listing_bands.py``.

Check, per chain (SPXW expiries up to :data:`MAX_CHECK_DTE` days): the share
of real strikes the model lists (``recall``) and the share of model strikes
that are real (``precision``) in two zones, with ``m = VIX/100 *
sqrt(dte/365)`` the expected move: ``near`` = ``|K/S - 1| <= 0.5 m``;
``condor`` = ``0.5 m < |K/S - 1| <= 1.5 m + 100/S`` (the ~16-delta short at
about one move and its 50-point wing). Out of sample: each chain is scored
with bands fitted without it (leave-one-date-out); the in-sample figure is
printed beside it. VIX chains are scored against the fixed Cboe ladder of
:func:`strategies.pricing.strike_listing.vix_listed_strikes` (``near``:
``|K/F - 1| <= 25%``, ``hedge``: ``F < K <= 1.3 F``).

``--fixture`` writes the small strike-list fixture the tests use (strike
lists are facts; each list is stored as runs ``[low, high, step]``) with
its provenance.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.calendars.exchange import default_calendar  # noqa: E402
from daemon.marketdata.loader import load_history  # noqa: E402
from strategies.domain import MarketContext  # noqa: E402
from strategies.pricing import strike_listing as sl  # noqa: E402

DEFAULT_CHAINS = Path("/work/shared/data/chains")
DEFAULT_VIX_CHAINS = Path("/work/shared/data/vix_options/vix_chains_2023")
BANDS_FILE = ROOT / "strategies" / "pricing" / "listing_bands.py"

#: Upper DTE bound of each fitted bucket (calendar days).
BUCKETS: tuple[int, ...] = (7, 14, 21, 28, 35, 49, 91, 10_000)
MAX_FIT_DTE = 200
MAX_CHECK_DTE = 60
#: The test fixture keeps SPXW expiries of 7 to this DTE (the condor window), strikes
#: within FIXTURE_SPAN of spot.
FIXTURE_DTE = 21
FIXTURE_SPAN = 0.15

_SYMBOL = re.compile(r"^([A-Z]+?)(\d{6})([CP])(\d{8})$")
_NAME_DATE = re.compile(r"(\d{4}-\d\d-\d\d)")


@dataclass
class Expiry:
    trading_class: str
    expiry: date
    strikes: list[float]


@dataclass
class Chain:
    name: str
    symbol: str
    quote_date: date
    spot: float | None
    expiries: list[Expiry]


def read_listing(path: Path, quote_date: date | None = None) -> Chain:
    """Every listed (class, expiry, strike) of a Cboe chain download."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    spot = None
    start = None
    for i, line in enumerate(lines):
        if spot is None and "Last:" in line:
            spot = float(line.split("Last:")[1].split(",")[0])
        if line.startswith("Expiration Date"):
            start = i + 1
            break
    if start is None:
        raise ValueError(f"{path.name}: no header line")
    found: dict[tuple[str, date], set[float]] = defaultdict(set)
    for row in csv.reader(lines[start:]):
        if len(row) < 13:
            continue
        m = _SYMBOL.match(row[1]) or _SYMBOL.match(row[12])
        if m is None:
            continue
        ymd = m.group(2)
        exp = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
        found[(m.group(1), exp)].add(float(row[11]))
    if quote_date is None:
        named = _NAME_DATE.search(path.name)
        if named is None:
            raise ValueError(f"{path.name}: no quote date in the name")
        quote_date = date.fromisoformat(named.group(1))
    symbol = "VIX" if any(cls.startswith("VIX") for cls, _ in found) else "SPX"
    ordered = sorted(found.items(), key=lambda x: x[0][1])
    expiries = [Expiry(c, e, sorted(k)) for (c, e), k in ordered]
    return Chain(path.name, symbol, quote_date, spot, expiries)


def cover(strikes: Iterable[float], spot: float, step: float, side: int) -> float:
    """How far (fraction of spot) multiples of ``step`` run unbroken from spot on ``side``."""
    listed = {round(k, 4) for k in strikes}
    k = math.floor(spot / step) * step if side < 0 else (math.floor(spot / step) + 1) * step
    last = None
    while round(k, 4) in listed:
        last = k
        k += side * step
    return 0.0 if last is None else abs(last / spot - 1.0)


Sample = tuple[str, int, list[tuple[float, float]]]  # kind, dte, covers per step


def samples(chain: Chain, is_session: object) -> list[Sample]:
    out: list[Sample] = []
    assert chain.spot is not None
    for e in chain.expiries:
        dte = (e.expiry - chain.quote_date).days
        if e.trading_class != "SPXW" or dte < 0 or dte > MAX_FIT_DTE:
            continue
        kind = sl.spx_expiry_kind(e.expiry, is_session)  # type: ignore[arg-type]
        covers = [
            (cover(e.strikes, chain.spot, s, -1), cover(e.strikes, chain.spot, s, 1))
            for s in sl.SPX_STEPS
        ]
        out.append((kind.value, dte, covers))
    return out


def fit(data: list[Sample]) -> dict[str, list[tuple[int, list[tuple[float, float]]]]]:
    """Median covers per (kind, bucket), empty buckets from the nearest filled one."""
    table: dict[str, list[tuple[int, list[tuple[float, float]]]]] = {}
    for kind in sl.ExpiryKind:
        cells: dict[int, list[list[tuple[float, float]]]] = defaultdict(list)
        for k, dte, covers in data:
            if k != kind.value:
                continue
            bucket = next(i for i, b in enumerate(BUCKETS) if dte <= b)
            cells[bucket].append(covers)
        if not cells:
            raise SystemExit(f"no sample of expiry kind {kind.value}")
        rows = []
        for i, bound in enumerate(BUCKETS):
            src = min(cells, key=lambda j: (abs(j - i), -j))
            edges = [
                (
                    round(statistics.median(c[s][0] for c in cells[src]), 4),
                    round(statistics.median(c[s][1] for c in cells[src]), 4),
                )
                for s in range(len(sl.SPX_STEPS))
            ]
            rows.append((bound, edges))
        table[kind.value] = rows
    return table


def model_strikes(
    table: dict[str, list[tuple[int, list[tuple[float, float]]]]],
    spot: float,
    session: date,
    dte: int,
    kind: sl.ExpiryKind,
) -> set[float]:
    saved = sl._bands.BANDS  # scoring a candidate table
    try:
        sl._bands.BANDS = {  # type: ignore[misc]
            k: tuple((b, tuple(e)) for b, e in rows) for k, rows in table.items()
        }
        return {float(x) for x in sl.spx_listed_strikes(spot, session, dte, kind)}
    finally:
        sl._bands.BANDS = saved  # type: ignore[misc]


def zone_counts(real: set[float], model: set[float], inside: object) -> tuple[int, int, int]:
    r = {k for k in real if inside(k)}  # type: ignore[operator]
    m = {k for k in model if inside(k)}  # type: ignore[operator]
    return len(r & m), len(r), len(m)


def score_spx(
    chain: Chain,
    table: dict[str, list[tuple[int, list[tuple[float, float]]]]],
    vix: float,
    is_session: object,
) -> dict[str, list[int]]:
    """Counts ``[hits, real, model]`` per zone over the chain's SPXW expiries."""
    assert chain.spot is not None
    spot = chain.spot
    totals = {"near": [0, 0, 0], "condor": [0, 0, 0]}
    for e in chain.expiries:
        dte = (e.expiry - chain.quote_date).days
        if e.trading_class != "SPXW" or dte < 0 or dte > MAX_CHECK_DTE:
            continue
        kind = sl.spx_expiry_kind(e.expiry, is_session)  # type: ignore[arg-type]
        model = model_strikes(table, spot, chain.quote_date, dte, kind)
        move = vix / 100.0 * math.sqrt(max(dte, 1) / 365.0)
        zones = {
            "near": lambda k, m=move: abs(k / spot - 1.0) <= 0.5 * m,
            "condor": lambda k, m=move: 0.5 * m < abs(k / spot - 1.0) <= 1.5 * m + 100.0 / spot,
        }
        for name, inside in zones.items():
            h, r, m = zone_counts(set(e.strikes), model, inside)
            totals[name][0] += h
            totals[name][1] += r
            totals[name][2] += m
    return totals


def score_vix(chain: Chain, futures: dict[date, float]) -> dict[str, list[int]]:
    totals = {"near": [0, 0, 0], "hedge": [0, 0, 0]}
    for e in chain.expiries:
        future = futures.get(e.expiry)
        dte = (e.expiry - chain.quote_date).days
        if future is None or dte < 0:
            continue
        model = {float(x) for x in sl.vix_listed_strikes(future, dte)}
        zones = {
            "near": lambda k, f=future: abs(k / f - 1.0) <= 0.25,
            "hedge": lambda k, f=future: f < k <= 1.3 * f,
        }
        for name, inside in zones.items():
            h, r, m = zone_counts(set(e.strikes), model, inside)
            totals[name][0] += h
            totals[name][1] += r
            totals[name][2] += m
    return totals


def pct(h: int, n: int) -> str:
    return "-" if n == 0 else f"{100.0 * h / n:.0f}%"


def runs(strikes: list[float]) -> list[list[float]]:
    """Compress an ascending strike list to ``[low, high, step]`` runs."""
    out: list[list[float]] = []
    for a, b in itertools.pairwise(strikes):
        step = round(b - a, 4)
        if out and out[-1][2] == step and out[-1][1] == a:
            out[-1][1] = b
        else:
            out.append([a, b, step])
    if len(strikes) == 1:
        out.append([strikes[0], strikes[0], 0.0])
    return out


def write_bands(table: dict[str, list[tuple[int, list[tuple[float, float]]]]]) -> None:
    lines = [
        "# fmt: off",
        "BANDS: Final[dict[str, tuple[tuple[int, tuple[tuple[float, float], ...]], ...]]] = {",
    ]
    for kind, rows in table.items():
        lines.append(f'    "{kind}": (')
        for bound, edges in rows:
            cells = [f"({p!r}, {c!r})" for p, c in edges]
            lines.append(f"        ({bound}, (")
            lines.append("            " + ", ".join(cells[:3]) + ",")
            lines.append("            " + ", ".join(cells[3:]) + ",")
            lines.append("        )),")
        lines.append("    ),")
    lines += ["}", "# fmt: on"]
    text = BANDS_FILE.read_text(encoding="utf-8")
    head, rest = text.split("# --- BEGIN FITTED", 1)
    _, tail = rest.split("# --- END FITTED", 1)
    block = (
        "# --- BEGIN FITTED (written by scripts/fit_strike_listing.py --write; "
        "do not edit by hand)\n" + "\n".join(lines) + "\n"
    )
    BANDS_FILE.write_text(head + block + "# --- END FITTED" + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", type=Path, default=DEFAULT_CHAINS)
    ap.add_argument("--vix-chains", type=Path, default=DEFAULT_VIX_CHAINS)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--fixture", type=Path)
    args = ap.parse_args(argv)

    calendar = default_calendar()
    history = load_history(calendar=calendar)
    chains = [read_listing(p) for p in sorted(args.chains.glob("*.csv"))]
    index = args.vix_chains / "INDEX.csv"
    if index.is_file():
        with index.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if "_all_" in row["file"]:
                    qd = date.fromisoformat(row["quote_date_GUESS_from_commit_time"])
                    chains.append(read_listing(args.vix_chains / row["file"], qd))
    spx = [c for c in chains if c.symbol == "SPX"]
    vix = [c for c in chains if c.symbol == "VIX"]
    per_chain = {c.name: samples(c, calendar.is_session) for c in spx}
    full = fit([s for v in per_chain.values() for s in v])

    def ctx(d: date) -> MarketContext:
        while not calendar.is_session(d):  # a download dated on a holiday: the session before
            d -= timedelta(days=1)
        return history.context(history.index_of(d))

    print("| chain | expiries <= 60 DTE | near: real listed (LOO / in) | near: model real | "
          "condor zone: real listed (LOO / in) | condor zone: model real |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    pooled = {"near": [0, 0, 0], "condor": [0, 0, 0]}
    for c in spx:
        vix_close = ctx(c.quote_date).vix
        loo = fit([s for n, v in per_chain.items() if n != c.name for s in v])
        out = score_spx(c, loo, vix_close, calendar.is_session)
        ins = score_spx(c, full, vix_close, calendar.is_session)
        n_exp = sum(
            1 for e in c.expiries
            if e.trading_class == "SPXW" and 0 <= (e.expiry - c.quote_date).days <= MAX_CHECK_DTE
        )  # fmt: skip
        for z in pooled:
            for i in range(3):
                pooled[z][i] += out[z][i]
        print(
            f"| {c.name} | {n_exp} | {pct(out['near'][0], out['near'][1])} / "
            f"{pct(ins['near'][0], ins['near'][1])} | {pct(out['near'][0], out['near'][2])} | "
            f"{pct(out['condor'][0], out['condor'][1])} / {pct(ins['condor'][0], ins['condor'][1])}"
            f" | {pct(out['condor'][0], out['condor'][2])} |"
        )
    print(
        f"| pooled (LOO) | | {pct(pooled['near'][0], pooled['near'][1])} | "
        f"{pct(pooled['near'][0], pooled['near'][2])} | "
        f"{pct(pooled['condor'][0], pooled['condor'][1])} | "
        f"{pct(pooled['condor'][0], pooled['condor'][2])} |"
    )
    print()
    print("| VIX chain | near: real listed | near: model real | hedge zone: real listed | "
          "hedge zone: model real |")  # fmt: skip
    print("|---|---|---|---|---|")
    for c in vix:
        out = score_vix(c, dict(ctx(c.quote_date).vix_futures))
        print(
            f"| {c.name} | {pct(out['near'][0], out['near'][1])} | "
            f"{pct(out['near'][0], out['near'][2])} | {pct(out['hedge'][0], out['hedge'][1])} | "
            f"{pct(out['hedge'][0], out['hedge'][2])} |"
        )
    if args.write:
        write_bands(full)
        print(f"wrote {BANDS_FILE.relative_to(ROOT)}", file=sys.stderr)
    if args.fixture is not None:
        fixture = {
            "provenance": (
                "Listed strikes (every row, quoted or not) of Cboe delayed-quote chain "
                "downloads in ../shared/data/chains and ../shared/data/vix_options/"
                "vix_chains_2023 (sources in that SOURCES.md); SPXW expiries of 7-21 DTE "
                "within 15% of spot, VIX expiries in full. Strike lists are facts; no "
                "quote is copied. Written by scripts/fit_strike_listing.py --fixture."
            ),
            "chains": [
                {
                    "name": c.name,
                    "symbol": c.symbol,
                    "quote_date": c.quote_date.isoformat(),
                    "spot": c.spot,
                    "vix": ctx(c.quote_date).vix,
                    "futures": {
                        e.expiry.isoformat(): ctx(c.quote_date).vix_futures[e.expiry]
                        for e in c.expiries
                        if c.symbol == "VIX" and e.expiry in ctx(c.quote_date).vix_futures
                    },
                    "expiries": [
                        {
                            "class": e.trading_class,
                            "expiry": e.expiry.isoformat(),
                            "runs": runs(
                                [
                                    k
                                    for k in e.strikes
                                    if c.symbol == "VIX" or abs(k / c.spot - 1.0) <= FIXTURE_SPAN
                                ]  # type: ignore[operator]
                            ),
                        }
                        for e in c.expiries
                        if (c.symbol == "VIX" and e.trading_class == "VIX")
                        or (
                            e.trading_class == "SPXW"
                            and 7 <= (e.expiry - c.quote_date).days <= FIXTURE_DTE
                        )
                    ],
                }
                for c in chains
                if c.spot is not None or c.symbol == "VIX"
            ],
        }
        args.fixture.write_text(json.dumps(fixture, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {args.fixture}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
