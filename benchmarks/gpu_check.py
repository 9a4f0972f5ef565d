"""One prepared GPU run: the checks that need a CUDA GPU, in one command, under 8 minutes.

On a machine with one CUDA GPU (an A100 or H100 class card), ``python benchmarks/gpu_check.py``

1. runs chapters 1 (super-resolution) and 6 (limited-view CT) with ``profile="paper"`` at reduced
   steps, on fabricated data of the paper's sizes (:mod:`benchmarks.fabricated`: 256² CelebA-HQ
   stand-ins, the paper-sized untrained prior, 362² LoDoPaB-CT stand-ins), with the papermill
   parameters tests/test_notebooks.py uses;
2. times FunkNN against LIIF (EDSR and pruned to 140K) on 100 images of 128² → 256² with
   benchmarks/speed.py (the paper, on an A100: LIIF 1.97 s, LIIF-140K 0.81 s, FunkNN 0.7 s);
3. runs ``torchrun --nproc-per-node=1 -m funknn train`` for a few steps three times: plain,
   ``--amp bf16`` and ``--compile``, and compares their seconds per step (the training loop's own
   clock, read from the checkpoint; ``--compile``'s includes the compilation of its first steps);

then writes one JSON of the figures (``--out``, default ``gpu_check.json``) and prints a table.
Random pixels carry no content: the figures are times and "it runs", never quality.

``--dry-run`` runs the same three parts on the CPU at tiny sizes (tested by
tests/test_benchmarks.py, marked slow): chapter 6 only, with the tiny prior, since chapter 1 trains
its six paper-sized models (``--dry-run --chapters 1 6`` runs both); 2 images of 8² → 16²; 2
training steps of a 16² crop. It takes about a minute on two shared CPU cores (53–71 s
measured): the chapter 6 notebook in the paper profile (about 20 s) and the CPU compilation of
``--compile`` (about 20 s) take most of it.

    python benchmarks/gpu_check.py [--dry-run] [--out gpu_check.json] [--steps 20] [--chapters 1 6]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAPER_SECONDS = {"LIIF-EDSR": 1.97, "LIIF-EDSR (140K)": 0.81, "FunkNN": 0.7}   # Section 5.1, one A100
VARIANTS = {"plain": [], "amp bf16": ["--amp", "bf16"], "compile": ["--compile"]}


def _load(name: str) -> ModuleType:
    """A sibling script of benchmarks/ as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU at tiny sizes")
    parser.add_argument("--out", default="gpu_check.json", help="the JSON of figures")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps of the notebooks and of torchrun (default 20; dry run 2)")
    parser.add_argument("--chapters", type=int, nargs="+", choices=(1, 6), default=None,
                        help="notebooks to run (default 1 6; dry run 6)")
    parser.add_argument("--workdir", default=None, help="where the fabricated data go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    args.steps = args.steps or (2 if args.dry_run else 20)
    args.chapters = args.chapters or ([6] if args.dry_run else [1, 6])
    return args


def _notebook(name: str, out: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """Execute notebook ``name`` in the paper profile (as tests/test_notebooks.py does); its results."""
    import papermill  # type: ignore[import-untyped]

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(out / "out.ipynb"),
        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
        parameters=dict(profile="paper", results_dir=str(out), **parameters))
    summary = json.loads((out / f"{name}.json").read_text())
    return {"seconds": round(time.perf_counter() - start, 1), "profile": summary["profile"]}


def _chapter_1(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    fab = _load("fabricated")
    size, count, test = (24, 102, 1) if args.dry_run else (256, 200, 10)
    celeba = fab.celeba_folder(work / "celeba_hq", count=count, size=size)
    lsun = fab.lsun_folder(work / "lsun", count=3 if args.dry_run else 10,
                           size=(30, 40) if args.dry_run else (256, 342))
    return _notebook("01_super_resolution", work / "ch1", dict(
        train=True, data_dir=str(celeba), ood_dir=str(lsun), steps=args.steps, n_test=test, scales=[2],
        batch_images=2 if args.dry_run else 16, checkpoint_dir=str(work / "ch1" / "ck")))


def _chapter_6(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    fab = _load("fabricated")
    prior = fab.prior_folder(work / "prior", paper=not args.dry_run)
    fab.lodopab_folder(prior, {"test": 2 if args.dry_run else 10}, size=40 if args.dry_run else 362)
    return _notebook("06_limited_view_ct", work / "ch6", dict(
        checkpoint_dir=str(prior), data_dir=str(prior), steps=args.steps, n_test=1 if args.dry_run else 4,
        finetune_steps=1 if args.dry_run else args.steps, tv_steps=args.steps,
        num_angles=20 if args.dry_run else 60))


def _speed(args: argparse.Namespace) -> dict[str, Any]:
    job = ["--images", "2", "--size", "8", "--repeats", "1"] if args.dry_run else \
        ["--images", "100", "--size", "128", "--repeats", "3"]
    seconds = _load("speed").main([*job, "--scales", "2"])
    return {"job": " ".join(job + ["--scales", "2"]), "seconds": {k: round(v, 4) for k, v in seconds.items()},
            "paper_seconds_a100": PAPER_SECONDS}


def _train(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``torchrun --nproc-per-node=1 -m funknn train`` plain, with bf16 autocast and compiled."""
    from funknn.checkpoints import read

    size = ["--size", "16", "--short-side", "32", "--batch-images", "1", "--batch-pixels", "64"] \
        if args.dry_run else []
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    results: dict[str, Any] = {}
    for name, options in VARIANTS.items():
        out = work / f"train_{name.replace(' ', '_')}.pt"
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=1",   # torchrun
                   "-m", "funknn", "train", "--data", "photos", "--steps", str(args.steps), "--out", str(out),
                   "--restart", "--no-progress", *size, *options]
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=work, capture_output=True)
        record = read(out)
        history = record["history"]
        results[name] = {"command": "torchrun " + " ".join(command[4:]),
                         "wall_seconds": round(time.perf_counter() - start, 1),
                         "train_seconds": round(history["seconds"], 2),
                         "seconds_per_step": round(history["seconds"] / args.steps, 4),
                         "last_loss": float(history["loss"][-1])}
    plain = results["plain"]["seconds_per_step"]
    for r in results.values():
        r["vs_plain"] = round(r["seconds_per_step"] / plain, 3)
    return results


def _table(figures: dict[str, Any]) -> None:
    print(f"\ngpu_check on {figures['device']} (torch {figures['torch']}; dry run: {figures['dry_run']})")
    for name, r in figures["notebooks"].items():
        print(f"  {name:<34}{r['seconds']:>9.1f} s  (profile {r['profile']})")
    print(f"  speed ({figures['speed']['job']}):")
    for name, s in figures["speed"]["seconds"].items():
        paper = PAPER_SECONDS.get(name)
        print(f"    {name:<32}{s:>9.3f} s" + (f"   paper (A100): {paper} s" if paper else ""))
    print("  torchrun --nproc-per-node=1 -m funknn train (compile: compilation included):")
    for name, r in figures["train"].items():
        print(f"    {name:<32}{r['seconds_per_step']:>9.4f} s/step {r['vs_plain']:>7.2f}× plain"
              f"   ({r['wall_seconds']:.1f} s wall)")
    print(f"  total {figures['seconds']:.1f} s; figures in {figures['out']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the three parts; write and return the figures."""
    import torch

    args = _arguments(argv)
    if not args.dry_run and not torch.cuda.is_available():
        raise RuntimeError("gpu_check needs a CUDA GPU; on a CPU run it with --dry-run")
    start = time.perf_counter()
    device = "cpu" if args.dry_run else torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        chapters = {1: ("01_super_resolution", _chapter_1), 6: ("06_limited_view_ct", _chapter_6)}
        notebooks = {chapters[c][0]: chapters[c][1](args, work) for c in args.chapters}
        figures: dict[str, Any] = {"device": device, "torch": str(torch.__version__), "dry_run": args.dry_run,
                                   "steps": args.steps, "notebooks": notebooks, "speed": _speed(args),
                                   "train": _train(args, work)}
    figures["seconds"] = round(time.perf_counter() - start, 1)
    figures["out"] = args.out
    Path(args.out).write_text(json.dumps(figures, indent=1))
    _table(figures)
    return figures


if __name__ == "__main__":
    main()
