"""Building blocks shared by several models."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

T = TypeVar("T")


class ResBlock(nn.Module):
    """Conv+ReLU, Conv, plus the block's input (a local skip connection), then ReLU unless
    ``final_relu=False`` (the EDSR block of LIIF's encoder). 3×3 convolutions, same size.

    Example:
        >>> ResBlock(4)(torch.rand(2, 4, 5, 5)).shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, channels: int, final_relu: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.conv2(F.relu(self.conv1(x)))
        return F.relu(y) if self.final_relu else y


#: the worker threads of :func:`across_threads`, by count (one pool per count, kept between calls)
_POOLS: dict[int, ThreadPoolExecutor] = {}
os.register_at_fork(after_in_child=_POOLS.clear)    # a forked child has none of the threads


def _one_intra_op_thread() -> None:
    torch.set_num_threads(1)


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="funknn-part",
                                             initializer=_one_intra_op_thread)
    return _POOLS[workers]


def _each_part(task: Callable[[int], T], parts: int) -> list[T]:
    """``task(i)`` for every part i: part 0 on the calling thread, the others on worker threads,
    every one of them with one intra-op thread (the caller's count is restored afterwards)."""
    futures = [_pool(parts - 1).submit(task, i) for i in range(1, parts)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = task(0)
    finally:
        torch.set_num_threads(threads)
    return [first, *(f.result() for f in futures)]


class _AcrossThreads(torch.autograd.Function):
    """``run`` on parts of the batch on several threads, forward and backward: each part keeps a
    graph of its own (built on its thread), whose backward runs on its thread too; the parameter
    gradients of the parts are summed. First derivatives only (``once_differentiable``)."""

    @staticmethod
    def forward(ctx: Any, run: Callable[[torch.Tensor], torch.Tensor], parts: int, x: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        chunks = x.detach().chunk(parts)
        wants_x = ctx.needs_input_grad[2]
        ctx.saved_params = params

        def forward_part(i: int) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.enable_grad():
                xi = chunks[i].detach().requires_grad_(wants_x)
                return xi, run(xi)

        ctx.graphs = _each_part(forward_part, len(chunks))
        return torch.cat([out.detach() for _, out in ctx.graphs])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        graphs, ctx.graphs = ctx.graphs, None
        if graphs is None:
            raise RuntimeError("backward through a pass across threads a second time: its parts' graphs "
                               "are freed by the first (retain_graph is not supported; run it in one "
                               "pass, e.g. with one thread)")
        params = [p for p, wanted in zip(ctx.saved_params, ctx.needs_input_grad[3:]) if wanted]
        wants_x = ctx.needs_input_grad[2]
        grads = grad.split([out.shape[0] for _, out in graphs])

        def backward_part(i: int) -> tuple[torch.Tensor | None, ...]:
            xi, out = graphs[i]
            inputs = ([xi] if wants_x else []) + params
            return torch.autograd.grad(out, inputs, grads[i], allow_unused=True)

        results = _each_part(backward_part, len(graphs))
        x_grad = torch.cat([r[0] for r in results]) if wants_x else None  # type: ignore[misc]
        summed = iter([_sum([r[k] for r in results]) for k in range(int(wants_x), len(results[0]))])
        return (None, None, x_grad, *(next(summed) if wanted else None
                                      for wanted in ctx.needs_input_grad[3:]))


def _sum(grads: list[torch.Tensor | None]) -> torch.Tensor | None:
    present = [g for g in grads if g is not None]
    if not present:
        return None
    total = present[0]
    for g in present[1:]:
        total = total + g
    return total


def across_threads(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, module: nn.Module,
                   parts: int) -> torch.Tensor:
    """``run(x)`` (a batch-wise map: row i of the output depends on row i of ``x`` only, through
    ``module``'s parameters) on ``parts`` parts of the batch at once, one per thread, each with one
    intra-op thread, forward and backward.

    On a CPU with few cores this replaces many short parallel regions (each op split across the
    cores, which stall whenever one core is busy elsewhere) by one per pass. The values are those
    of ``run(x)`` and the gradients those of one pass up to float rounding (each parameter's
    gradient is a sum over the parts); first derivatives only, and one backward: a second
    derivative or a second backward (``retain_graph``) through it raises an error, so callers
    that need them call ``run`` directly.

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> x = torch.rand(10, 3)
        >>> torch.allclose(across_threads(layer, x, layer, parts=2), layer(x))
        True
    """
    params = [p for p in module.parameters()]
    parts = max(1, min(int(parts), x.shape[0]))
    out = _AcrossThreads.apply(run, parts, x, *params)
    return cast(torch.Tensor, out)
