"""The former home of training, kept so that its public names stay importable: the loop, its
records and profiling are in :mod:`funknn.engine`, super-resolution training in
:mod:`funknn.tasks.super_resolution`. No logic lives here."""

from .checks import lr_drop as check_lr_drop
from .engine import (
    AMP,
    LazyStream,
    StepConfig,
    autocast,
    check_resume,
    learning_rate,
    optimise,
    restore_generators,
    run_adam,
    run_record,
    step_cost,
    step_seconds,
)
from .tasks.super_resolution import (
    LOSSES,
    MODES,
    FunctionSource,
    TrainConfig,
    crop_each,
    draw_low_size,
    function_loss,
    image_loss,
    loss_value,
    low_resolution_sizes,
    make_pair,
    pixel_batch,
    train,
)

__all__ = ["AMP", "LOSSES", "MODES", "FunctionSource", "LazyStream", "StepConfig", "TrainConfig", "autocast",
           "check_lr_drop", "check_resume", "crop_each", "draw_low_size", "function_loss", "image_loss",
           "learning_rate", "loss_value", "low_resolution_sizes", "make_pair", "optimise", "pixel_batch",
           "restore_generators", "run_adam", "run_record", "step_cost", "step_seconds", "train"]
