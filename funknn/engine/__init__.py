"""The training engine: the one resumable, data-parallel, mixed-precision loop over a bundle of
optimisers (:mod:`funknn.engine.loop`), the records it writes and resumes from
(:mod:`funknn.engine.records`), the streamed images of each step (:mod:`funknn.engine.stream`) and
what a step costs (:mod:`funknn.engine.profiling`); every name is importable from
``funknn.engine``. The tasks that train on it are in ``funknn.tasks``
(:mod:`funknn.tasks.super_resolution`, :mod:`funknn.tasks.prior`, :mod:`funknn.tasks.gasp`)."""

from .loop import AMP, Bundle, Loop, PartLoss, Precision, autocast, optimise, run_adam, update
from .profiling import step_cost, step_seconds
from .records import StepConfig, check_resume, learning_rate, restore_generators, run_record
from .stream import LazyStream

__all__ = ["AMP", "Bundle", "LazyStream", "Loop", "PartLoss", "Precision", "StepConfig", "autocast",
           "check_resume", "learning_rate", "optimise", "restore_generators", "run_adam", "run_record",
           "step_cost", "step_seconds", "update"]
