"""Data-parallel training (funknn.distributed): the parts of a global batch, resuming, and real
``torchrun`` runs with the Gloo backend (two processes on this machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from distributed_worker import Phantoms  # a data set read item by item (tests/ is on sys.path)

from funknn import data, distributed
from funknn.checkpoints import read
from funknn.distributed import Parallel, StepBatches
from funknn.models import build
from funknn.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _torchrun(*args: str, procs: int = 2, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             f"--nproc-per-node={procs}", *args], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def test_step_batches_cut_the_global_batch_into_disjoint_parts():
    one = iter(StepBatches(10, 4, seed=3))
    parts = [iter(StepBatches(10, 4, seed=3, parallel=Parallel(r, 2))) for r in range(2)]
    seen: list[int] = []
    for _ in range(5):          # two epochs: every index twice, in a new order per epoch
        a, b = next(parts[0]), next(parts[1])
        assert next(one) == a + b and len(a) == len(b) == 2 and not set(a) & set(b)
        seen += a + b
    assert sorted(seen) == sorted(2 * list(range(10)))
    later = next(iter(StepBatches(10, 4, seed=3, start=3)))
    assert later == list(StepBatches(10, 4, seed=3, steps=4))[3]       # a function of the step alone
    accumulated = next(iter(StepBatches(10, 4, seed=3, parallel=Parallel(0, 1, accumulate=2))))
    assert accumulated == list(StepBatches(10, 4, seed=3, steps=1))[0]


def test_parallel_settings_are_checked():
    with pytest.raises(ValueError, match="does not split into 4 equal parts"):
        Parallel(1, 2, accumulate=2).part_size(6)
    with pytest.raises(ValueError, match="rank 2 is not in a world of size 2"):
        Parallel(2, 2)
    with pytest.raises(ValueError, match="accumulate must be positive"):
        Parallel(0, 1, accumulate=0)
    with pytest.raises(ValueError, match="empty"):
        StepBatches(0, 4)
    assert distributed.current(3) == Parallel(0, 1, 3)          # no process group: one process


def _train(steps: int, checkpoint: Path | None = None, accumulate: int = 2, data_set=None) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build("funknn", in_channels=1, network="mlp")
    phantoms = data.ellipse_phantoms("train", 8, 16)
    images = data.ImageCollection(list(phantoms)) if data_set is None else data_set
    train(model, images, TrainConfig(size=16, steps=steps, batch_images=4, batch_pixels=16, lr=1e-3,
                                     checkpoint_every=2), checkpoint=checkpoint, progress=False,
          accumulate=accumulate)
    return model


def test_accumulated_run_resumes_exactly_and_refuses_another_number_of_parts(tmp_path):
    whole = _train(4, tmp_path / "a.pt")
    _train(2, tmp_path / "b.pt")
    resumed = _train(4, tmp_path / "b.pt")
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    record = read(tmp_path / "a.pt")
    assert len(record["generators"]) == 2
    assert {k: record["meta"][k] for k in ("world_size", "accumulate", "parts", "global_batch")} == \
        {"world_size": 1, "accumulate": 2, "parts": 2, "global_batch": 4}
    with pytest.raises(ValueError, match="2 part\\(s\\) per step .* this run has 1"):
        _train(6, tmp_path / "a.pt", accumulate=1)


def test_streamed_training_reads_the_same_images_with_workers():
    images = data.ellipse_phantoms("train", 8, 16)
    direct = _train(3, data_set=images)                         # a tensor, indexed in this process
    torch.manual_seed(0)
    model = build("funknn", in_channels=1, network="mlp")
    train(model, Phantoms(images), TrainConfig(size=16, steps=3, batch_images=4, batch_pixels=16, lr=1e-3),
          progress=False, accumulate=2, workers=1)                # a DataLoader with a worker process
    for k, v in direct.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k


@pytest.mark.slow
def test_two_gloo_processes_hold_identical_weights_equal_to_one_process(tmp_path):
    """2 processes (torchrun, Gloo) vs 1 process with accumulate=2: the same global batches, so the
    same weights up to float rounding (tolerance 1e-6; measured: equal) for all four trainers."""
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    run = _torchrun("tests/distributed_worker.py", str(tmp_path / "two"))
    out, _ = run.communicate(timeout=300)
    assert run.returncode == 0, out
    subprocess.run([sys.executable, "tests/distributed_worker.py", str(tmp_path / "one"),
                    "--accumulate", "2"], cwd=ROOT, env=ENV, check=True, timeout=300)
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt") for r in range(2)]
    single = torch.load(tmp_path / "one" / "rank0.pt")
    for name in ("funknn", "autoencoder", "flow", "gasp"):
        (w0, loss0), (w1, _), (ws, loss_s) = ranks[0][name], ranks[1][name], single[name]
        for k in w0:
            assert torch.equal(w0[k], w1[k]), (name, k)
            torch.testing.assert_close(w0[k], ws[k], rtol=0, atol=1e-6, msg=f"{name} {k}")
        torch.testing.assert_close(torch.tensor(loss0), torch.tensor(loss_s), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_killed_torchrun_job_fails_clearly_keeps_its_checkpoint_and_resumes(tmp_path):
    out = tmp_path / "m.pt"
    command = ["-m", "funknn", "train", "--data", "ellipses", "--channels", "1", "--count", "16",
               "--short-side", "16", "--size", "16", "--network", "mlp", "--batch-images", "4",
               "--batch-pixels", "16", "--checkpoint-every", "5", "--out", str(out), "--no-progress"]
    run = _torchrun(*command, "--steps", "1000000", start_new_session=True)
    deadline = time.time() + 120
    while not out.exists() and time.time() < deadline and run.poll() is None:
        time.sleep(0.2)
    workers = subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert out.exists() and len(workers) == 2, workers
    os.kill(int(workers[-1]), signal.SIGKILL)                   # one rank dies
    log, _ = run.communicate(timeout=120)
    assert run.returncode != 0 and "ChildFailedError" in log and "SIGKILL" in log, log
    record = read(out)                                          # the last good checkpoint, intact
    step = int(record["step"])
    assert step % 5 == 0 and step >= 5 and record["meta"]["world_size"] == 2
    assert record["meta"]["global_batch"] == 4
    again = _torchrun(*command, "--steps", str(step + 5))
    log, _ = again.communicate(timeout=300)
    assert again.returncode == 0, log
    resumed = read(out)
    assert int(resumed["step"]) == step + 5 and len(resumed["history"]["loss"]) == step + 5
    assert resumed["history"]["loss"][:step] == record["history"]["loss"]
