"""A tiny separately installed package whose figure reaches theorylab through the
``theorylab.figures`` entry-point group (tests/test_check_your_claim.py installs its
metadata onto a temporary sys.path)."""
import numpy as np

from figures.core import Claim, Figure

CLAIM = Claim(id="demo_plugin.ok", statement="two is two", claimed="2", source="test")

FIGURE = Figure(
    name="demo_plugin", title="plugin figure", paper="none", claims=(CLAIM,), config={},
    compute=lambda cfg, ctx: {"v": np.array(2.0)},
    check=lambda d, cfg: [CLAIM.result(verdict="PASS" if float(d["v"]) == 2 else "FAIL",
                                       measured=float(d["v"]))],
    plot=lambda d, cfg: __import__("matplotlib.pyplot").pyplot.figure())
