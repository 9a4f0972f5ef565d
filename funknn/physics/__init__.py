"""Forward operators of the inverse problems (Section 4 of the paper), one module each, all
:class:`LinearOperator` s (a forward map, its adjoint, domain and range shapes; the dot test
:func:`check_adjoint`):

- ``funknn.physics.gradients``: :class:`DerivativeOperator`, derivatives of an image at
  given coordinates (dense or the largest ones only), and its parts (:func:`measure_gradients`,
  :func:`grid_locations`, :func:`largest_gradients`, :func:`take_locations`,
  :func:`location_mask`);
- ``funknn.physics.ct``: :class:`LimitedViewCT`, limited-view parallel-beam CT through ODL
  and ASTRA (ODL is imported only when a CT operator is built).

A new operator is one module here with a class that has the :class:`LinearOperator` members,
and one entry in the operator contract test (``tests/physics/test_operator_contract.py``).
"""

from .ct import IMPLS, LimitedViewCT, available_impls
from .gradients import (
    DerivativeOperator,
    grid_locations,
    largest_gradients,
    location_mask,
    measure_gradients,
    take_locations,
)
from .operators import LinearOperator, adjoint_error, check_adjoint

__all__ = ["IMPLS", "DerivativeOperator", "LimitedViewCT", "LinearOperator", "adjoint_error",
           "available_impls", "check_adjoint", "grid_locations", "largest_gradients", "location_mask",
           "measure_gradients", "take_locations"]
