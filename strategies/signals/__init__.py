"""Hedge signals (pure): indicators, the daily history window, and the per-session signals."""

from strategies.signals.hedge_signals import HedgeSignals, compute_signals
from strategies.signals.history import SignalHistory
from strategies.signals.indicators import ema, macd, rsi

__all__ = ["HedgeSignals", "SignalHistory", "compute_signals", "ema", "macd", "rsi"]
