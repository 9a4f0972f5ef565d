"""What a training step costs (funknn.engine.profiling)."""

import pytest
import torch


def test_step_seconds_times_adam_steps():
    from funknn.engine.profiling import step_seconds

    m = torch.nn.Linear(4, 1)
    before = m.weight.detach().clone()
    assert step_seconds(m, lambda: m(torch.ones(3, 4)).sum(), repeats=3, lr=0.1) > 0
    assert not torch.equal(before, m.weight)             # four Adam steps were taken
    with pytest.raises(ValueError, match="repeats"):
        step_seconds(m, lambda: m(torch.ones(3, 4)).sum(), repeats=0)
