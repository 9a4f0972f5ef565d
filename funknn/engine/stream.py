"""The images of each step of a run, streamed in the order of :class:`funknn.distributed.StepBatches`
(the epoch order, sampling without replacement, each rank its own parts)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset

from .. import distributed

__all__ = ["LazyStream"]


class LazyStream:
    """The images of each step's parts, streamed from ``data`` (a tensor or a ``Dataset``) in the
    order of :class:`~funknn.distributed.StepBatches`, from whatever step is asked for first
    (a resumed run starts there; later steps must follow in order).

    Example:
        >>> stream = LazyStream(torch.arange(10.0), batch=4, seed=0, parallel=distributed.Parallel(),
        ...                     steps=3)
        >>> later = stream.part(1, 0)                  # a resumed run: step 1 first
        >>> bool(torch.equal(later, torch.arange(10.0)[list(distributed.StepBatches(10, 4, steps=2))[1]]))
        True
    """

    def __init__(self, data: torch.Tensor | Dataset, batch: int, seed: int,
                 parallel: distributed.Parallel, steps: int, workers: int = 0) -> None:
        self.data, self.batch, self.seed, self.parallel = data, batch, seed, parallel
        self.steps, self.workers = steps, workers
        self.part_size = parallel.part_size(batch)
        self._iter: Iterator[torch.Tensor] | None = None
        self._step = -1
        self._images = torch.empty(0)

    def part(self, step: int, k: int) -> torch.Tensor:
        """The images of this process's ``k``-th part of step ``step`` (counted from 0)."""
        if self._iter is None:
            self._iter = distributed.stream(self.data, distributed.StepBatches(
                len(self.data), self.batch, self.seed, step, self.parallel, self.steps),  # type: ignore[arg-type]
                self.workers)
            self._step = step - 1
        if step != self._step:
            if step != self._step + 1:
                raise RuntimeError(f"streamed steps must follow in order: asked for {step} "
                                   f"after {self._step}")
            self._images, self._step = next(self._iter), step
        return self._images[k * self.part_size:(k + 1) * self.part_size]
