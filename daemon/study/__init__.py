"""``alvh study``: replay variants of the method over one range and compare them.

Modules: :mod:`~daemon.study.metrics` (performance metrics from a daily
net-liquidation series, overall, by VIX regime and by year),
:mod:`~daemon.study.variants` (the configurations compared),
:mod:`~daemon.study.runner` (replays them), :mod:`~daemon.study.bootstrap`
(block-bootstrap confidence intervals), :mod:`~daemon.study.benchmarks`
(user-supplied CNDR / S&P 500 TR / T-bill files), :mod:`~daemon.study.cndr`
(the replica against the real index), :mod:`~daemon.study.claim` (the
method's volatility claim), :mod:`~daemon.study.plots` and
:mod:`~daemon.study.page` (PNGs and the HTML page), :mod:`~daemon.study.run`
(the whole study) and :mod:`~daemon.study.cli` (the command).
"""
