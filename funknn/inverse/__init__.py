"""Inverse problems with the continuous generative prior (Section 4 of the paper), and the
classical baselines they are measured against, one concern per module:

- ``funknn.inverse.problems``: a problem is a forward operator of :mod:`funknn.physics` + a
  data fidelity + scales (:class:`OperatorProblem`): :class:`DerivativeProblem`,
  :class:`CTProblem`;
- ``funknn.inverse.regularisers``: total variation (:func:`mean_gradient_magnitude`,
  :func:`total_variation`) and the latent penalty;
- ``funknn.inverse.solver``: :func:`solve` (the latent search, then the fine-tuning of what
  the prior names, :class:`LatentPrior`) and its :class:`SolverConfig`;
- ``funknn.inverse.baselines``: :func:`tv_least_squares` (CT), :func:`poisson_tv` (derivatives).
"""

from ..models.protocols import FineTuning
from .baselines import pixel_gradient, poisson_tv, tv_least_squares
from .problems import (
    SCALES,
    CTProblem,
    DerivativeProblem,
    Fidelity,
    OperatorProblem,
    Problem,
    mean_squared_error,
)
from .regularisers import latent_penalty, mean_gradient_magnitude, total_variation
from .solver import LatentPrior, SolverConfig, solve

__all__ = ["SCALES", "CTProblem", "DerivativeProblem", "Fidelity", "FineTuning", "LatentPrior",
           "OperatorProblem", "Problem", "SolverConfig", "latent_penalty", "mean_gradient_magnitude",
           "mean_squared_error", "pixel_gradient", "poisson_tv", "solve", "total_variation",
           "tv_least_squares"]
