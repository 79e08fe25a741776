"""``alvh sweep``: replay a grid of configs on Dask, cache every point, report the results.

Modules:

* :mod:`~daemon.sweep.grid`: GRID.toml (a ``[grid]`` of dotted config keys to
  lists of values over an ordinary config), the product and random samples,
  every point's config validated by the normal loader;
* :mod:`~daemon.sweep.task`: one point as a task (a replay with a
  results-only journal, the market history loaded once per worker process);
* :mod:`~daemon.sweep.runner`: the cache check and the Dask client (a local
  cluster sized to the machine, or ``--scheduler``), progress, interruption;
* :mod:`~daemon.sweep.cache`: finished points on disk, keyed by the hash of
  their config, range and code/data versions (an interrupted sweep resumes);
* :mod:`~daemon.sweep.metrics`: :func:`~daemon.sweep.metrics.point_metrics`,
  the one function that turns a point's journal into metrics;
* :mod:`~daemon.sweep.report`: ``results.csv`` and the offline HTML page
  (sortable table, parameter importance, heat maps);
* :mod:`~daemon.sweep.walkforward`: best point on training years, reported
  on the following test years;
* :mod:`~daemon.sweep.cli`: the command.

User documentation: ``docs/sweep.md``.
"""

from daemon.sweep.metrics import point_metrics

__all__ = ["point_metrics"]
