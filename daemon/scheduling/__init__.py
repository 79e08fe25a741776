"""Job definitions and the clocks that fire them (virtual in replay, APScheduler live)."""
