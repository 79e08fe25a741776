"""``[study]``: ``alvh study`` inputs the product does not ship, and its bootstrap settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from daemon.config.base import Section
from daemon.study.bootstrap import DEFAULT_BLOCK_LENGTH, DEFAULT_SAMPLES, DEFAULT_SEED


class StudyConfig(Section):
    """``[study]``: benchmark files, output folder, workers and bootstrap settings.

    ``cndr_path`` (Cboe CNDR daily levels, ``date,CNDR``), ``sp500tr_path``
    (S&P 500 total return, ``date,close``) and ``tbill_path`` (FRED DTB3,
    percent) are files the user downloads (see README, "Study"); none is
    shipped and each is optional (the study says what is missing); relative
    paths are relative to the working directory. ``out`` is the output
    folder. ``jobs`` replays at once (processes). ``bootstrap_samples``
    resamples, ``block_length`` the mean block length in sessions and
    ``seed`` the generator seed of the stationary block bootstrap
    (:mod:`daemon.study.bootstrap`).
    """

    cndr_path: Path | None = None
    sp500tr_path: Path | None = None
    tbill_path: Path | None = None
    out: Path = Path("study")
    jobs: int = Field(default=2, ge=1, le=64)
    bootstrap_samples: int = Field(default=DEFAULT_SAMPLES, ge=100, le=100_000)
    block_length: float = Field(default=float(DEFAULT_BLOCK_LENGTH), ge=1.0, le=252.0)
    seed: int = Field(default=DEFAULT_SEED, ge=0, le=2**32 - 1)
