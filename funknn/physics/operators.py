"""The interface of a forward operator: a linear map of batched tensors with its adjoint.

Every operator of :mod:`funknn.physics` is a :class:`LinearOperator`: ``op(x)`` maps a batch
``(B, *op.domain_shape)`` to ``(B, *op.range_shape)``, ``op.adjoint(y)`` maps back, and the two
are adjoint for the plain dot product of tensors, ⟨op(x), y⟩ = ⟨x, op.adjoint(y)⟩, which
:func:`adjoint_error` measures on random tensors and :func:`check_adjoint` asserts::

    >>> import torch
    >>> class Scale:                                     # the smallest operator: x ↦ 2x
    ...     domain_shape = range_shape = (3,)
    ...     batch = None
    ...     def __call__(self, x): return 2 * x
    ...     def adjoint(self, y): return 2 * y
    >>> isinstance(Scale(), LinearOperator), adjoint_error(Scale()) < 1e-12
    (True, True)
    >>> class Wrong(Scale):
    ...     def adjoint(self, y): return 3 * y
    >>> check_adjoint(Wrong())                          # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Wrong.adjoint is not the adjoint of Wrong: relative error ... (tolerance 0.0001)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["LinearOperator", "adjoint_error", "check_adjoint"]


@runtime_checkable
class LinearOperator(Protocol):
    """A linear forward operator on batches of tensors.

    Attributes:
        domain_shape: shape of one input, without the batch dimension (an image: (C, H, W)).
        range_shape: shape of one output (the measurements of one image).
        batch: the batch size the operator is tied to (e.g. one set of measurement locations per
            image), or ``None`` when it applies to batches of any size.
    """

    @property
    def domain_shape(self) -> tuple[int, ...]: ...

    @property
    def range_shape(self) -> tuple[int, ...]: ...

    @property
    def batch(self) -> int | None: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The forward map, ``(B, *domain_shape)`` → ``(B, *range_shape)``."""
        ...

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """The adjoint for the plain dot product, ``(B, *range_shape)`` → ``(B, *domain_shape)``."""
        ...


def _expect_shape(t: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if tuple(t.shape) != shape:
        raise ValueError(f"{what} returned shape {tuple(t.shape)}, expected {shape}")


def adjoint_error(operator: LinearOperator, *, batch: int | None = None, dtype: torch.dtype = torch.float64,
                  seed: int = 0, device: torch.device | str | None = None) -> float:
    """Relative error of the dot test ⟨A x, y⟩ = ⟨x, A* y⟩ on random normal tensors x, y.

    The error is ``|⟨A x, y⟩ − ⟨x, A* y⟩| / max(‖A x‖·‖y‖, ‖x‖·‖A* y‖)`` (0 for an exact
    adjoint; the scale is that of the Cauchy–Schwarz bound, so the value is meaningful even when
    the inner products are near 0).

    Args:
        operator: the :class:`LinearOperator` under test.
        batch: batch size of the random tensors; default ``operator.batch`` or 2.
        dtype: dtype of the random tensors (operators may compute in a lower precision).
        seed: seed of the random tensors.

    Raises:
        ValueError: if the forward map or the adjoint returns the wrong shape.
    """
    b = batch if batch is not None else (operator.batch or 2)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, *operator.domain_shape, generator=g, dtype=dtype).to(device)
    y = torch.randn(b, *operator.range_shape, generator=g, dtype=dtype).to(device)
    name = type(operator).__name__
    with torch.no_grad():
        ax, aty = operator(x), operator.adjoint(y)
    _expect_shape(ax, (b, *operator.range_shape), f"{name} on x of shape {tuple(x.shape)}")
    _expect_shape(aty, (b, *operator.domain_shape), f"{name}.adjoint on y of shape {tuple(y.shape)}")
    ax, aty = ax.to(dtype), aty.to(dtype)
    lhs, rhs = (ax * y).sum(), (x * aty).sum()
    scale = max(float(ax.norm() * y.norm()), float(x.norm() * aty.norm()), torch.finfo(dtype).tiny)
    return float((lhs - rhs).abs()) / scale


def check_adjoint(operator: LinearOperator, tolerance: float = 1e-4, **kwargs: object) -> float:
    """:func:`adjoint_error` of ``operator``, raising ``ValueError`` when it exceeds ``tolerance``.

    Returns:
        the relative error (≤ ``tolerance``).
    """
    error = adjoint_error(operator, **kwargs)  # type: ignore[arg-type]
    if not error <= tolerance:
        name = type(operator).__name__
        raise ValueError(f"{name}.adjoint is not the adjoint of {name}: relative error {error:.3g} of "
                         f"<A x, y> = <x, A* y> (tolerance {tolerance:g})")
    return error
