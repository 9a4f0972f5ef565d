"""The exported model under onnxruntime (CPU) beside PyTorch: points per second for the same
query batch, measured in one run.

Job (default): the shipped ``photos_factor`` FunkNN (CNN, bicubic), one 3×64×64 image, queried at
the 16,384 pixel centres of a 128×128 grid in one call (about a minute and a half on two shared
CPU cores), with 1 and 2 threads. PyTorch runs the
model's own forward (``model(coords, image)`` in inference mode, its CPU blocks included);
onnxruntime runs the file :func:`funknn.export.onnx` writes, with the CPU execution provider
and its default graph optimisations. Each figure is the best of ``--repeats`` (the machine may
be shared), the two alternating; the largest difference between their values is printed too.

    .venv/bin/python benchmarks/onnx_speed.py [--checkpoint photos_factor] [--size 64]
        [--points 16384] [--threads 1 2] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import torch

import funknn
from funknn.export import OUTPUT, onnx


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="photos_factor", help="shipped model name or file")
    parser.add_argument("--size", type=int, default=64, help="side of the low-resolution image")
    parser.add_argument("--points", type=int, default=16384,
                        help="queries in the batch (the pixel centres of a square grid of this many)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke test: 16² image, 4,096 points, once")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.points, args.repeats = 16, 4096, 1
    return args


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no busy-waiting after a run: its spinning threads would slow the PyTorch timing beside it
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> dict[int, dict[str, float]]:
    """Print the table; return {threads: {"pytorch", "onnxruntime" (points/s), "ratio"}}."""
    args = _arguments(argv)
    path = Path(args.checkpoint)
    model = funknn.load(path) if path.is_file() else funknn.pretrained(args.checkpoint)
    channels: int = model.in_channels  # type: ignore[assignment]
    torch.manual_seed(0)
    image = torch.rand(1, channels, args.size, args.size)
    side = int(math.isqrt(args.points))
    coords = funknn.grid_coords(side, args.points // side)[None]        # (1, N, 2)
    n = coords.shape[1]
    feed = {"image": image.numpy(), "coords": coords.numpy()}
    previous = torch.get_num_threads()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exported = onnx(model, Path(tmp) / "model.onnx")
        for threads in args.threads:
            torch.set_num_threads(threads)
            session = _session(exported, threads)
            with torch.inference_mode():
                expected = model(coords, image).numpy()                  # warm-up of both
            got = session.run([OUTPUT], feed)[0]
            torch_s, ort_s = float("inf"), float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                with torch.inference_mode():
                    model(coords, image)
                torch_s = min(torch_s, time.perf_counter() - start)
                start = time.perf_counter()
                session.run([OUTPUT], feed)
                ort_s = min(ort_s, time.perf_counter() - start)
            results[threads] = {"pytorch": n / torch_s, "onnxruntime": n / ort_s, "ratio": torch_s / ort_s,
                                "max_abs_difference": float(np.abs(got - expected).max())}
    torch.set_num_threads(previous)
    print(f"{args.checkpoint}: one {channels}×{args.size}² image, {n:,} points in one call; "
          f"torch {torch.__version__}, onnxruntime {ort.__version__} (CPU), best of {args.repeats}")
    print(f"{'threads':>8}{'PyTorch points/s':>19}{'onnxruntime points/s':>23}{'ort / PyTorch':>15}"
          f"{'max |diff|':>12}")
    for threads, r in results.items():
        print(f"{threads:>8}{r['pytorch']:>19,.0f}{r['onnxruntime']:>23,.0f}{r['ratio']:>14.2f}×"
              f"{r['max_abs_difference']:>12.1e}")
    return results


if __name__ == "__main__":
    main()
