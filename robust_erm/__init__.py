"""robust_erm: robust empirical risk minimization with convex uncertainty sets in CVXPY.

Implements Luxenberg, Malik, Li, Singh, Boyd, "Specifying and Solving Robust Empirical Risk
Minimization Problems Using CVXPY", arXiv:2306.05649 (JOTA 2024).
"""
from robust_erm import coupled, losses, reduction, sets
from robust_erm.problem import Built, Result, RobustERM, RobustLoss
from robust_erm.reduction import CVaR
from robust_erm.solving import VALIDATED_SOLVERS, Certificate, RobustERMSolveError
from robust_erm.worst_case import WorstCase, worst_case_points

__all__ = ["RobustERM", "Built", "Result", "RobustLoss", "Certificate", "RobustERMSolveError",
           "VALIDATED_SOLVERS", "CVaR", "WorstCase", "worst_case_points", "losses", "sets",
           "reduction", "coupled"]
