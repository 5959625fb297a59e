"""pytest plugin (entry point ``pytest11: theorylab``): the ``assert_rate`` fixture.

Replace ``assert abs(order - p) < tol`` (which flakes or never fails) by a statistical
verdict::

    def test_sgd_rate(assert_rate):
        t, err = run_my_sgd()                        # err: (n_seeds, len(t))
        assert_rate(t, err, law="power", accept=(0.45, 0.55), seeds_axis=0)

    def test_euler_order(assert_rate):
        assert_rate(h, err, law="order", accept=(0.9, 1.1))

A FAIL raises ``AssertionError`` with the fitted rate, its CI, the fit range and the
rival laws.  An INCONCLUSIVE verdict (the CI straddles the band) follows
``--theorylab-inconclusive`` (``fail``, the default, ``skip``, ``xfail`` or ``pass``), or the
fixture call's own ``inconclusive=``.  The same function is ``figures.assert_rate``.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--theorylab-inconclusive", default="fail",
                     choices=("fail", "skip", "xfail", "pass"),
                     help="what assert_rate does on an INCONCLUSIVE verdict (default: fail)")


@pytest.fixture
def assert_rate(request):
    """``assert_rate(x, y, *, law, accept, **check_rate_options)`` (see module docstring)."""
    from figures.core.ratecheck import assert_rate as _assert_rate

    default = request.config.getoption("--theorylab-inconclusive")

    def check(x, y, *, law, accept, inconclusive=None, **kw):
        return _assert_rate(x, y, law=law, accept=accept,
                            inconclusive=inconclusive or default, **kw)

    return check
