"""Solver choice, status handling and the certificate of a solve.

Solvers validated by the test suite: CLARABEL (default) and SCS.  Others installed in cvxpy are
allowed with a warning, except HiGHS on problems with piecewise-linear atoms (pos, maximum, abs,
norm1, ...): cvxpy 1.9.3's PWL elimination for LP solvers returns "optimal" at a wrong point
there (measured: robust hinge, theta = 0, objective 1.0 against the true 0.657), so it is refused.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata as md
import warnings

import cvxpy as cp

__all__ = ["VALIDATED_SOLVERS", "RobustERMSolveError", "Certificate", "check_solver", "run_solver"]

VALIDATED_SOLVERS = ("CLARABEL", "SCS")


class RobustERMSolveError(RuntimeError):
    """The solve did not produce a certified solution (status, gap or unattained infimum)."""


class UnvalidatedSolverWarning(UserWarning):
    """A solver outside ``VALIDATED_SOLVERS`` was used; the certificate still checks it."""


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Solver objective vs the robust objective re-evaluated at the returned theta.

    ``robust_objective`` is computed numerically from the sets' closed forms or primal
    descriptions (``robust_erm.evaluate``), not from the solver's dual; ``gap`` =
    (solver_objective - robust_objective) / max(1, |robust_objective|); ``ok`` when |gap| <= rtol
    and the theta constraints hold to ``rtol``."""

    solver_objective: float
    robust_objective: float
    gap: float
    constraint_violation: float
    rtol: float
    duality_gap: float | None = None     # |pobj - dobj| / max(1, |pobj|) where the solver reports it
    dual_rtol: float = 1e-4

    @property
    def ok(self):
        dual_ok = self.duality_gap is None or self.duality_gap <= self.dual_rtol
        return abs(self.gap) <= self.rtol and self.constraint_violation <= self.rtol and dual_ok


def _has_pwl(problem):
    from cvxpy.reductions.eliminate_pwl.canonicalizers import CANON_METHODS
    return any(a in CANON_METHODS for a in problem.atoms())     # atoms() lists classes


def check_solver(solver, problem):
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a cvxpy solver name such as 'CLARABEL', got {solver!r}")
    solver = solver.upper()
    if solver not in cp.installed_solvers():
        raise ValueError(f"solver {solver!r} is not installed; installed: {cp.installed_solvers()}")
    if solver == "HIGHS" and _has_pwl(problem):
        raise ValueError("solver 'HIGHS' is refused for this problem: cvxpy's piecewise-linear "
                         "elimination for LP solvers mis-solves pos/maximum/abs terms (robust "
                         "hinge: 'optimal' at theta = 0); use 'CLARABEL' or 'SCS'")
    if solver not in VALIDATED_SOLVERS:
        warnings.warn(f"solver {solver!r} is not among those validated by robust_erm's tests "
                      f"{VALIDATED_SOLVERS}; the result is certified but not otherwise checked",
                      UnvalidatedSolverWarning, stacklevel=3)
    return solver


def solver_version(solver):
    for name in (solver.lower(), {"SCS": "scs", "CLARABEL": "clarabel", "HIGHS": "highspy"}.get(
            solver, solver.lower())):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            pass
    return "unknown"


def run_solver(problem, solver, opts):
    """Solve; return the status.  Option errors are reported naming the options."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*too many subexpressions.*")
            warnings.filterwarnings("ignore", message=".*Solution may be inaccurate.*")
            problem.solve(solver=solver, **opts)
    except cp.error.SolverError as e:
        raise RobustERMSolveError(f"solver {solver} failed: {e} (status 'solver_error'; try "
                                  "another solver or raise its iteration limit)") from None
    except (TypeError, ValueError, KeyError) as e:
        user = sorted(k for k in opts if k != "warm_start")
        if user:
            raise ValueError(f"solver option(s) {user} rejected by {solver}: {e}") from None
        raise
    return problem.status


def duality_gap(problem):
    """Relative primal-dual objective gap reported by SCS (None for solvers that do not report
    it through cvxpy, e.g. CLARABEL, whose 'optimal' status already certifies its own gap).
    Measured on a 40-sample robust least squares: SCS defaults 2.8e-5, max_iters=50 2.5e-4."""
    es = getattr(problem.solver_stats, "extra_stats", None)
    if isinstance(es, dict) and isinstance(es.get("info"), dict):
        info = es["info"]
        if "pobj" in info and "dobj" in info:
            p, d = float(info["pobj"]), float(info["dobj"])
            return abs(p - d) / max(1.0, abs(p))
    return None


def status_message(status, solver):
    hint = {
        cp.INFEASIBLE: "the theta constraints are infeasible",
        cp.INFEASIBLE_INACCURATE: "the theta constraints look infeasible (inaccurate)",
        cp.UNBOUNDED: "the objective is unbounded below (a loss unbounded below, e.g. linear, "
                      "needs a regularizer or bounded theta)",
        cp.UNBOUNDED_INACCURATE: "the objective looks unbounded below (inaccurate)",
        cp.OPTIMAL_INACCURATE: "the solver stopped before its tolerances were met (iteration or "
                               "time limit?); raise the limit or use another solver",
        cp.USER_LIMIT: "the solver hit an iteration or time limit; raise it",
    }.get(status, "see the solver's log (verbose=True)")
    return f"robust ERM not solved: solver {solver} returned status {status!r}: {hint}"
