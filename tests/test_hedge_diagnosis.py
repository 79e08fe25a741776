"""The hedge-ratio diagnosis splits the pooled slope exactly (scripts/hedge_diagnosis.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hedge_diagnosis", ROOT / "scripts" / "hedge_diagnosis.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hedge_diagnosis"] = module
    spec.loader.exec_module(module)
    return module


def test_group_contributions_sum_to_the_pooled_slope() -> None:
    diag = _script()
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.5, 400)
    y = -200.0 * x + rng.normal(50.0, 300.0, 400)
    groups = np.array(["a", "b", "c", "d"], dtype=object)[rng.integers(0, 4, 400)]
    parts = diag.contributions(y, x, groups)
    assert set(parts) == {"a", "b", "c", "d"}
    assert abs(sum(parts.values()) - diag.ols_slope(y, x)) < 1e-9
    # a group with no P&L (nothing held) contributes nothing
    flat = np.where(groups == "a", 0.0, y)
    assert abs(diag.contributions(flat, x, groups)["a"]) < 1e-9


def test_partition_first_match_wins() -> None:
    diag = _script()
    held_prev = np.array([True, False, False, True, True, False])
    any_today = np.array([True, True, True, True, True, False])
    entry = np.array([False, True, True, False, False, False])
    exit_ = np.array([False, False, True, True, True, False])
    stopped = np.array([False, False, True, False, True, False])
    groups = diag.partition(held_prev, any_today, entry, exit_, stopped)
    assert list(groups) == ["held all day", "entry", "stop", "other exit", "stop", "no condor"]
