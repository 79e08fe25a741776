"""Job definitions and their session triggers (fired virtually in replay, by APScheduler live).

Clocks and the exchange time zone live in :mod:`daemon.clock`; the brokers
import those, never this package (an import-linter contract).
"""
