"""Data-parallel training with ``torch.distributed``, launched by ``torchrun``.

Every trainer of the package (:func:`funknn.tasks.super_resolution.train`, the generative prior's parts,
:func:`funknn.tasks.gasp.train_gasp`) runs unchanged in one process or under::

    torchrun --standalone --nproc-per-node=N -m funknn train ...

How a step is shared (the global batch and the learning rate mean what they mean in one process):

- The global batch of ``B`` samples is cut into ``parts = world_size × accumulate`` equal parts;
  rank ``r`` computes parts ``r·accumulate … (r+1)·accumulate − 1`` (``accumulate`` > 1 lets one
  device stand in for several by gradient accumulation).
- Part ``p`` draws its random choices (crops, flips, pixels, scales, latents) from its own
  generator, seeded by ``seed`` for part 0 (a one-process run is unchanged) and by
  ``seed + p·2³²`` for the others: no two parts draw the same samples.
- Which images a step uses (the epoch order, sampling without replacement) is one global stream
  (:class:`StepBatches`, a function of the seed and the step alone) of which each part takes its
  own slice, so ranks never read the same image in a step, and a rank reads only its slices.
- The parts' gradients are averaged across ranks (one all-reduce of a flat buffer per optimiser
  step), so every rank takes the same Adam step and holds the same weights; a run with
  ``W`` processes equals a one-process run with ``accumulate = W`` up to float rounding.
- Rank 0 alone writes checkpoints (atomically); every rank reads them on resume. A checkpoint
  records ``world_size``, ``accumulate`` and the global batch; a run resumes with any
  ``world_size × accumulate`` equal to the one that wrote it (e.g. 2 GPUs → 1 GPU with
  ``--accumulate 2``).

Process groups: :func:`setup` (called by the command line) initialises one from torchrun's
environment: NCCL on CUDA (one device per local rank), Gloo on the CPU. Without torchrun
nothing is initialised and everything runs in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.utils.data

#: offset between the seeds of two parts' generators
PART_SEED_STRIDE = 2 ** 32


@dataclass(frozen=True)
class Parallel:
    """This process's place in a data-parallel run.

    Attributes:
        rank: this process's rank (0 … world_size − 1).
        world_size: number of processes.
        accumulate: parts per process (gradient accumulation).
    """

    rank: int = 0
    world_size: int = 1
    accumulate: int = 1

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in a world of size {self.world_size}")
        if self.accumulate < 1:
            raise ValueError(f"accumulate must be positive, got {self.accumulate}")

    @property
    def parts(self) -> int:
        """Parts of the global batch, ``world_size × accumulate``."""
        return self.world_size * self.accumulate

    @property
    def my_parts(self) -> range:
        """The global indices of the parts this process computes."""
        return range(self.rank * self.accumulate, (self.rank + 1) * self.accumulate)

    @property
    def main(self) -> bool:
        """Whether this is rank 0 (the one that writes checkpoints and prints)."""
        return self.rank == 0

    def part_size(self, global_batch: int, name: str = "batch") -> int:
        """Samples per part; raises ``ValueError`` unless ``global_batch`` divides evenly."""
        if global_batch % self.parts:
            raise ValueError(f"the global {name} {global_batch} does not split into {self.parts} equal parts "
                             f"(world_size {self.world_size} × accumulate {self.accumulate}); choose a "
                             f"multiple of {self.parts}")
        return global_batch // self.parts

    def generators(self, seed: int) -> list[torch.Generator]:
        """This process's parts' generators (part 0's is seeded by ``seed`` itself)."""
        return [part_generator(seed, p) for p in self.my_parts]


def part_generator(seed: int, part: int) -> torch.Generator:
    """The generator of part ``part`` of a run seeded by ``seed``."""
    return torch.Generator().manual_seed(seed + part * PART_SEED_STRIDE)


def current(accumulate: int = 1) -> Parallel:
    """The :class:`Parallel` of this process: its rank and world size in the initialised process
    group (one process when none is), with ``accumulate`` parts per process."""
    if dist.is_available() and dist.is_initialized():
        return Parallel(dist.get_rank(), dist.get_world_size(), accumulate)
    return Parallel(0, 1, accumulate)


def launched() -> bool:
    """Whether this process was started by torchrun (its environment names a world)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def setup(device: torch.device) -> torch.device:
    """Initialise the process group from torchrun's environment (no-op otherwise) and return the
    device this process trains on: ``cuda:LOCAL_RANK`` when ``device`` is CUDA, else ``device``.
    The backend is NCCL on CUDA and Gloo on the CPU."""
    if not launched() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    """Destroy the process group, if one was initialised (after a barrier, so that no rank
    leaves while another still writes)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (no-op in one process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(parameters: Sequence[torch.nn.Parameter], values: Sequence[float] = ()
                      ) -> list[float]:
    """Average the gradients of ``parameters`` over all ranks in place (one all-reduce of one flat
    buffer; a missing gradient counts as zero) and return ``values`` (e.g. this rank's losses)
    averaged over the ranks too. A no-op (returning ``values``) in one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(values)
    params = [p for p in parameters if p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads]
                     + [torch.tensor([float(v) for v in values], dtype=grads[0].dtype if grads
                                     else torch.float32, device=device)])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n
    return [float(v) for v in flat[offset:]]


def gather_states(states: list[torch.Tensor], parallel: Parallel) -> list[torch.Tensor]:
    """All parts' generator states, in part order (each rank contributes its own parts')."""
    if parallel.world_size == 1:
        return list(states)
    gathered: list = [None] * parallel.world_size
    dist.all_gather_object(gathered, [s.cpu() for s in states])
    return [s for rank_states in gathered for s in rank_states]


class StepBatches:
    """The sample indices of every step of a run: the global batches of ``batch`` indices taken in
    turn from the concatenation of random permutations of ``range(count)`` (one per epoch, drawn
    in sequence from one generator seeded by ``seed``), cut into the parts of ``parallel``.

    A function of the seed and the step alone, so a run can start at any step (resume) and every
    rank agrees on it without communication. Iterating yields, for each step from ``start``, the
    indices of this process's parts concatenated (``accumulate × part`` of them): use it as a
    ``batch_sampler`` of a :class:`torch.utils.data.DataLoader` to stream a data set.

    Example:
        >>> from funknn.distributed import Parallel, StepBatches
        >>> one = StepBatches(10, 4, seed=0)
        >>> two = [StepBatches(10, 4, seed=0, parallel=Parallel(r, 2)) for r in range(2)]
        >>> a, b = next(iter(two[0])), next(iter(two[1]))
        >>> next(iter(one)) == a + b, len(a)
        (True, 2)
    """

    def __init__(self, count: int, batch: int, seed: int = 0, start: int = 0,
                 parallel: Parallel | None = None, steps: int | None = None) -> None:
        if count < 1:
            raise ValueError(f"cannot draw batches from an empty data set (count {count})")
        if batch < 1 or start < 0:
            raise ValueError(f"batch must be positive and start >= 0, got {batch}, {start}")
        self.count, self.batch, self.seed, self.start = count, batch, seed, start
        self.parallel = parallel or Parallel()
        self.part = self.parallel.part_size(batch)
        self.steps = steps

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError("an endless StepBatches has no length")
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        position = self.start * self.batch              # index into the concatenated stream
        epoch, offset = divmod(position, self.count)
        order = torch.empty(0, dtype=torch.long)
        for _ in range(epoch + 1):                     # replay the permutations up to the start
            order = torch.randperm(self.count, generator=generator)
        order = order[offset:]
        lo = self.parallel.my_parts.start * self.part
        hi = self.parallel.my_parts.stop * self.part
        step = self.start
        while self.steps is None or step < self.steps:
            while order.numel() < self.batch:
                order = torch.cat([order, torch.randperm(self.count, generator=generator)])
            batch, order = order[:self.batch], order[self.batch:]
            yield batch[lo:hi].tolist()
            step += 1


def stream(data: torch.Tensor | torch.utils.data.Dataset, batches: StepBatches, workers: int = 0
           ) -> Iterator[torch.Tensor]:
    """The samples of each step of ``batches`` (this process's parts, concatenated): indexed
    directly from an in-memory tensor, or read from a ``Dataset`` by a ``DataLoader`` with
    ``workers`` worker processes (0: in this process) that prefetch the next steps."""
    if isinstance(data, torch.Tensor):
        for idx in batches:
            yield data[idx]
        return
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    loader = torch.utils.data.DataLoader(data, batch_sampler=batches, num_workers=workers,
                                         persistent_workers=workers > 0,
                                         pin_memory=torch.cuda.is_available())
    yield from loader
