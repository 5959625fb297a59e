"""Paper figures and the claims they check.

One module per paper figure; each defines a module-level ``FIGURE`` (a
:class:`figures.core.Figure`) that declares the claims it checks.  The
registry (:func:`figures.core.registry.all_figures`) discovers them, so adding a
figure is adding a module.  The command line lives in :mod:`figures.core.cli`
(``theorylab`` or ``python -m figures``).

Nothing else in the project imports this package.
"""

from figures.core.ratecheck import RateCheck, assert_rate, check_rate  # noqa: E402

__all__ = ["RateCheck", "assert_rate", "check_rate"]
