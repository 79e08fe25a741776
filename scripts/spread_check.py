"""Compare the SPX quote-spread model with the spreads of real Cboe chains.

Usage::

    .venv/bin/python scripts/spread_check.py [CHAINS_DIR]   # default ../shared/data/chains

Reads every ``SPX_*.csv`` chain in ``CHAINS_DIR`` (Cboe delayed-quote
downloads, :mod:`daemon.chains`; the long-dated 2025 file is skipped), keeps
the SPXW quotes of 5-90 DTE and 2-60 delta (Cboe's delta), and prints, by
absolute delta and DTE bucket, the median real full spread (ask - bid, index
points) beside the spread that :data:`strategies.pricing.chain_builder.SPX_SPREAD`
puts around the same real mid, then the model/real ratio of the summed
spreads per chain file. ``docs/cash-and-fills.md`` shows its output for the
2022-2024 chains.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

from daemon.chains import read_chain
from strategies.pricing.chain_builder import SPX_SPREAD, quote_from_mid

DELTA_EDGES = (0.02, 0.05, 0.10, 0.20, 0.35, 0.60)
DTE_EDGES = (4, 10, 21, 45, 90)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path("../shared/data/chains")
    files = sorted(p for p in folder.glob("SPX_*.csv") if "longdated" not in p.name)
    if not files:
        print(f"spread_check: no SPX_*.csv chain files in {folder}", file=sys.stderr)
        return 2
    cols: dict[str, list[np.ndarray]] = {"dte": [], "delta": [], "mid": [], "real": []}
    print("file: model/real (summed spreads), quotes")
    for path in files:
        chain = read_chain(path)
        dte = chain.dte()
        keep = (
            (chain.trading_class == "SPXW")
            & (dte >= 5)
            & (dte <= 90)
            & (np.abs(chain.delta) >= 0.02)
            & (np.abs(chain.delta) <= 0.60)
        )
        mid, real = chain.mid[keep], (chain.ask - chain.bid)[keep]
        bid, ask = quote_from_mid(mid, SPX_SPREAD)
        print(f"{path.name}: {(ask - bid).sum() / real.sum():.2f}, {int(keep.sum())}")
        for name, values in (("dte", dte[keep]), ("delta", np.abs(chain.delta[keep]))):
            cols[name].append(values)
        cols["mid"].append(mid)
        cols["real"].append(real)
    dte, delta, mid, real = (np.concatenate(cols[k]) for k in ("dte", "delta", "mid", "real"))
    bid, ask = quote_from_mid(mid, SPX_SPREAD)
    model = ask - bid
    print(f"all: model/real {model.sum() / real.sum():.2f} over {len(real)} quotes")
    print("abs delta    DTE     quotes  median mid  real  model")
    for d_lo, d_hi in itertools.pairwise(DELTA_EDGES):
        for t_lo, t_hi in itertools.pairwise(DTE_EDGES):
            sel = (delta > d_lo) & (delta <= d_hi) & (dte > t_lo) & (dte <= t_hi)
            if not sel.any():
                continue
            print(
                f"{d_lo:.2f}-{d_hi:.2f}  {t_lo + 1:>2}-{t_hi:<3} {int(sel.sum()):>7}"
                f"  {np.median(mid[sel]):>10.2f}  {np.median(real[sel]):.2f}"
                f"  {np.median(model[sel]):.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
