"""What a training step costs: its FLOPs and memory (:func:`step_cost`) and its wall-clock time
(:func:`step_seconds`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from .loop import optimise

__all__ = ["step_cost", "step_seconds"]


def step_cost(model: nn.Module, loss: Callable[[], torch.Tensor]) -> dict[str, float]:
    """What one training step of ``model`` costs, measured on one call of ``loss()`` and its
    backward pass: ``flops`` (the matrix-multiply and convolution FLOPs of forward + backward,
    counted by ``torch.utils.flop_counter``), ``activation_bytes`` (the tensors autograd keeps
    for the backward pass, each storage once, parameters excluded: the memory that grows with
    the batch) and ``state_bytes`` (weights, gradients and Adam's two moments: 4 × the
    parameters' bytes). Gradients are left in ``model``'s parameters.

    Example:
        >>> m = nn.Linear(10, 5)
        >>> cost = step_cost(m, lambda: m(torch.ones(8, 10)).sum())
        >>> cost["flops"], cost["state_bytes"]    # 2·8·10·5 forward + as many for the weight gradient
        (1600.0, 880.0)
    """
    from torch.utils.flop_counter import FlopCounterMode

    owned = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in owned:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    counter = FlopCounterMode(display=False)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        value = loss()
        value.backward()
    state = 4 * sum(p.numel() * p.element_size() for p in model.parameters())
    return {"flops": float(counter.get_total_flops()), "activation_bytes": float(sum(saved.values())),
            "state_bytes": float(state)}


def step_seconds(model: nn.Module, loss: Callable[[], torch.Tensor], repeats: int = 1,
                 lr: float = 1e-4) -> float:
    """The median wall-clock seconds of an Adam step of ``model`` on ``loss()`` (forward,
    backward, update) over ``repeats`` steps after one warm-up step; CUDA is synchronised around
    each step. The model's weights change (``repeats`` + 1 steps of learning rate ``lr``).

    Example:
        >>> m = nn.Linear(10, 5)
        >>> step_seconds(m, lambda: m(torch.ones(8, 10)).sum(), repeats=2) > 0
        True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = next(model.parameters()).device
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    times = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        optimise(optimiser, loss())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(statistics.median(times[1:]))
