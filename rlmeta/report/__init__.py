"""The rlmeta report: a complete, self-contained HTML and PDF analysis.

>>> from rlmeta.report import ReportConfig
>>> ReportConfig().measure
'RD'
"""

from .build import SECTION_ORDER, build_report, write_report
from .config import ReportConfig, load_config
from .document import Report, Section
from .render import render_html

__all__ = [
    "build_report",
    "write_report",
    "ReportConfig",
    "load_config",
    "Report",
    "Section",
    "render_html",
    "SECTION_ORDER",
]
