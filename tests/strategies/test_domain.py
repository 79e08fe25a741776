"""OptionContract's remembered hash (strategies.domain)."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date

from strategies.domain import OptionContract, Right


def _generated(contract: OptionContract) -> int:
    """The hash the dataclass would generate: of the six fields' tuple."""
    return hash(
        (
            contract.symbol,
            contract.trading_class,
            contract.expiry,
            contract.strike,
            contract.right,
            contract.multiplier,
        )
    )


def test_hash_is_the_generated_one_and_keys_maps() -> None:
    contract = OptionContract("SPX", "SPXW", date(2020, 1, 2), 3000.0, Right.CALL)
    assert hash(contract) == _generated(contract)
    twin = OptionContract("SPX", "SPXW", date(2020, 1, 2), 3000.0, Right.CALL)
    assert twin is not contract and {contract: 1}[twin] == 1
    assert "_hash" not in repr(contract)


def test_hash_is_recomputed_after_pickling_and_replace() -> None:
    contract = OptionContract("VIX", "VIX", date(2021, 2, 17), 28.0, Right.CALL)
    state = pickle.dumps(contract)
    assert b"_hash" not in state  # str hashes differ between processes
    back = pickle.loads(state)
    assert back == contract and hash(back) == hash(contract)
    moved = dataclasses.replace(contract, strike=30.0)
    assert moved != contract and hash(moved) == _generated(moved)
