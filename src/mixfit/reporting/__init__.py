"""Pages a person reads: :func:`report` (data → a self-contained HTML page) and its look.

:mod:`mixfit.reporting.page` holds :class:`~mixfit.reporting.page.Page`, the
page shared by ``mixfit report`` and ``mixfit demo``; :mod:`mixfit.reporting.build`
holds :func:`report`, exported as ``mixfit.report``. (The package is not called
``mixfit.report``: importing a subpackage of that name would replace the
function ``mixfit.report`` by the package.)
"""

from mixfit.reporting.build import report
from mixfit.reporting.page import Page

__all__ = ["Page", "report"]
