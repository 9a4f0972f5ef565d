"""The records of a run (funknn.engine.records): what a resume checks and the schedule."""

import pytest
import torch

from funknn.checkpoints import model_record
from funknn.engine.records import check_resume, learning_rate, restore_generators, run_record
from funknn.models import build
from funknn.tasks.super_resolution import TrainConfig


def test_check_resume_names_what_differs():
    model = build("funknn", in_channels=1, network="mlp")
    settings = {"steps": 4, "lr": 1e-3, "seed": 0}
    record = run_record(model, step=2, optimizer={}, states=[torch.Generator().get_state()],
                        settings=settings, history={"seconds": 1.0}, meta={"command": "x"},
                        layout={"world_size": 1})
    assert record["meta"]["command"] == "x" and record["meta"]["steps"] == 2
    check_resume(record, "r.pt", model, {**settings, "steps": 10})            # steps may change
    with pytest.raises(ValueError, match=r"settings \['lr'\] differ"):
        check_resume(record, "r.pt", model, {**settings, "lr": 1.0})
    check_resume(record, "r.pt", model, {**settings, "new": 3}, defaults={"new": 3})   # an older file
    with pytest.raises(ValueError, match="config"):
        check_resume(record, "r.pt", build("funknn", in_channels=3, network="mlp"), settings)
    with pytest.raises(ValueError, match="weights only"):
        check_resume(model_record(model), "r.pt", model, {})


def test_learning_rate_and_generators():
    config = TrainConfig(lr=1.0, lr_drop_at=5, lr_drop=0.5)
    assert [learning_rate(config, s) for s in (0, 4, 5, 9)] == [1.0, 1.0, 0.5, 0.5]
    from funknn.distributed import Parallel

    states = [torch.Generator().manual_seed(s).get_state() for s in (1, 2)]
    mine = [torch.Generator()]
    restore_generators({"generator": states[0], "generators": states}, "r.pt", mine, Parallel(1, 2))
    assert torch.equal(mine[0].get_state(), states[1])
    with pytest.raises(ValueError, match="2 part"):
        restore_generators({"generator": states[0], "generators": states}, "r.pt", mine, Parallel())
