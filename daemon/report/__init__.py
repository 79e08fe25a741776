"""``alvh report``: one run of a journal as an HTML page with PNG charts.

:func:`render_run_report` is the whole job (the study calls it for each
variant's page); :mod:`daemon.report.data` gathers the numbers (pure
functions over the journal's read models), :mod:`daemon.report.charts`
draws them and :mod:`daemon.report.page` writes the page. A caller holding an
open journal can :func:`gather` a :class:`RunReport` itself and pass it to
:func:`render_report`.
"""

from __future__ import annotations

from daemon.report.data import RunReport, gather
from daemon.report.render import ReportError, bundled_vix, render_report, render_run_report

__all__ = [
    "ReportError",
    "RunReport",
    "bundled_vix",
    "gather",
    "render_report",
    "render_run_report",
]
