"""The engine's loop (funknn.engine.loop): parts of a step, precision, a bundle of optimisers and
resuming, on every device the machine has (tests/conftest.py's ``device`` and ``amp``)."""


import pytest
import torch

from funknn.checkpoints import read
from funknn.engine import AMP, Bundle, Loop, Precision, run_adam, update
from funknn.models import build
from funknn.tasks.prior import FitConfig


def Settings(**changes) -> FitConfig:
    """A short schedule with a learning-rate drop (any config with the loop's fields would do)."""
    settings = dict(steps=4, lr=1e-2, seed=0, checkpoint_every=2, lr_drop_at=3, lr_drop=0.1)
    return FitConfig(**{**settings, **changes})


def _model(device):
    torch.manual_seed(0)
    return build("funknn", in_channels=1, network="mlp").to(device)


def _run(model, steps, checkpoint, amp, accumulate=2):
    device = next(model.parameters()).device

    def step_loss(generator, k, step):
        low = torch.rand(2, 1, 8, 8, generator=generator).to(device)
        coords = (torch.rand(2, 16, 2, generator=generator) * 2 - 1).to(device)
        target = torch.nn.functional.grid_sample(low, coords[:, :, None], align_corners=False)
        return (model(coords, low).float() - target[:, :, :, 0].transpose(1, 2)).abs().mean()

    return run_adam(model, Settings(steps=steps), step_loss, checkpoint=checkpoint, progress=False,
                    accumulate=accumulate, global_batch=4, amp=amp)


def test_run_adam_trains_on_every_device_and_precision_and_resumes_exactly(tmp_path, device, amp):
    whole = _model(device)
    h_whole = _run(whole, 4, tmp_path / "a.pt", amp)
    part = _model(device)
    _run(part, 3, tmp_path / "b.pt", amp)
    resumed = _model(device)
    h_resumed = _run(resumed, 4, tmp_path / "b.pt", amp)
    assert h_resumed["step"] == [1, 2, 3, 4] and all(torch.isfinite(torch.tensor(h_whole["loss"])))
    tolerance = {} if device.type == "cpu" else {"rtol": 1e-3, "atol": 1e-4}   # CUDA's atomics reorder sums
    for k, v in whole.state_dict().items():
        if tolerance:
            torch.testing.assert_close(v, resumed.state_dict()[k], **tolerance)
        else:
            assert torch.equal(v, resumed.state_dict()[k]), k
    if not tolerance:
        assert h_resumed["loss"] == h_whole["loss"]
    record = read(tmp_path / "b.pt")
    assert record["meta"]["amp"] == amp and record["meta"]["parts"] == 2 and record["step"] == 4
    assert record["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3)      # the drop at step 3
    with pytest.raises(ValueError, match="part"):
        _run(_model(device), 6, tmp_path / "b.pt", amp, accumulate=1)


def test_update_sums_the_parts_and_steps_once(device):
    model = torch.nn.Linear(3, 1, bias=False).to(device)
    start = model.weight.detach().clone()
    generators = [torch.Generator().manual_seed(s) for s in (0, 1)]
    inputs = [torch.randn(4, 3, generator=torch.Generator().manual_seed(s)).to(device) for s in (0, 1)]

    def part(k, generator):
        loss = model(inputs[k]).square().mean() / 2
        return loss, {"loss": float(loss.detach())}

    values = update(torch.optim.SGD(model.parameters(), lr=1.0), part, generators)
    expected = sum(float((inputs[k] @ start.T).square().mean()) / 2 for k in range(2))
    assert values["loss"] == pytest.approx(expected, rel=1e-5)
    grad = sum(2 * (inputs[k] @ start.T * inputs[k]).mean(0) / 2 for k in range(2))
    torch.testing.assert_close(model.weight.detach(), start - grad[None], rtol=1e-5, atol=1e-6)


def test_a_loop_over_two_optimisers_steps_each(device):
    model = torch.nn.Linear(2, 1).to(device)
    weight, bias = model.weight.detach().clone(), model.bias.detach().clone()
    bundle = Bundle({"weight": torch.optim.SGD([model.weight], lr=0.1),
                     "bias": torch.optim.Adam([model.bias], lr=0.1)})
    loop = Loop(model, bundle, Settings(steps=3), progress=False)
    calls = []

    def part(k, generator):
        loss = model(torch.randn(4, 2, generator=generator).to(device)).square().mean()
        return loss, {"loss": float(loss.detach())}

    def step(s):
        calls.append(s)
        first = loop.update(part, loop.bundle["weight"])
        second = loop.update(part, loop.bundle["bias"])
        return {"w": first["loss"], "b": second["loss"]}

    history = loop.run(step, keys=("w", "b"), callback=lambda s, v: calls.append(-s))
    assert calls == [0, -1, 1, -2, 2, -3] and list(history) == ["step", "w", "b", "seconds"]
    assert not torch.equal(model.weight.detach(), weight) and not torch.equal(model.bias.detach(), bias)
    assert not model.training
    with pytest.raises(ValueError, match="name the one"):
        loop.update(part)


def test_bundle_states_and_errors():
    w = torch.nn.Parameter(torch.zeros(2))
    single = Bundle(torch.optim.Adam([w], lr=0.1))
    assert set(single.state_dict()) == {"state", "param_groups"}          # one optimiser: its own state
    single.set_lr(0.5)
    assert single.only().param_groups[0]["lr"] == 0.5
    pair = Bundle({"a": torch.optim.SGD([w], lr=1.0), "b": torch.optim.Adam([w], lr=1e-3)})
    state = pair.state_dict()
    pair.load_state_dict(state)
    with pytest.raises(ValueError, match=r"no state of the optimiser\(s\) \['b'\]"):
        pair.load_state_dict({"a": state["a"]}, "x.pt")
    with pytest.raises(ValueError, match="at least one optimiser"):
        Bundle({})


def test_precision_refuses_an_unknown_amp():
    assert AMP == ("off", "bf16", "fp16")
    with pytest.raises(ValueError, match="unknown amp 'fp8'"):
        Precision(torch.device("cpu"), "fp8")
    with pytest.raises(ValueError, match="unknown amp"):
        _run(_model(torch.device("cpu")), 1, None, "fp8")
    assert not Precision(torch.device("cpu"), "bf16").scaler.is_enabled()
