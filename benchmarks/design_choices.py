"""Ablation of FunkNN's two design choices against the paper's: the network's input (the raw
patch, as the paper, or the patch minus its centre value) and its output layer's initial scale
(PyTorch's default, as the paper, or 0.01 of it). Four variants trained alike (the same seed,
hence the same initial weights up to the output layer's scale; the same data, batches and
steps) on the embedded photos in factor mode, as `photos_factor`; printed: the training loss
along the way and the SNR at ×2 and ×4 (hierarchical) on chapter 1's test tiles, and, with
several --seeds, each variant's paired difference from the paper's network with a 95% bootstrap
interval (resampling the test photographs and each side's training seeds, funknn.stats) and its
verdict (held: the choice helps).

    .venv/bin/python benchmarks/design_choices.py [--steps 400] [--seeds 0 1 2] [--out _build/design_choices]

Each variant's checkpoint is written to --out, so an interrupted run resumes where it stopped
and a finished one is only evaluated again. The curves and scores go to --out/results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import funknn
from funknn import stats
from funknn.data import embedded_photos
from funknn.evaluation import evaluate
from funknn.training import TrainConfig

#: name → FunkNN arguments; the first is the paper's network, the last the package's default
VARIANTS: dict[str, dict] = {
    "paper (raw patch, default init)": dict(centred_input=False, output_init=1.0),
    "patch - centre": dict(centred_input=True, output_init=1.0),
    "0.01 init": dict(centred_input=False, output_init=0.01),
    "both (ours)": dict(centred_input=True, output_init=0.01),
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--size", type=int, default=64, help="training crop side n")
    parser.add_argument("--batch-images", type=int, default=16)
    parser.add_argument("--batch-pixels", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="training seeds (each variant is trained once per seed)")
    parser.add_argument("--tiles", type=int, default=None, help="number of test tiles (default: all)")
    parser.add_argument("--tile", type=int, default=256, help="side of the test tiles")
    parser.add_argument("--low-size", type=int, default=32)
    parser.add_argument("--out", default="_build/design_choices", help="folder of checkpoints and results")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--plot", default=None, help="also save the loss curves as this image file")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_images = embedded_photos("train")
    photos = embedded_photos("test", short_side=None)
    test = photos.tiles(args.tile)[:args.tiles]
    sources = photos.tile_sources(args.tile)[:len(test)]
    results: dict = {"steps": args.steps, "seeds": args.seeds, "test_tiles": len(test),
                     "test_sources": len(set(sources)), "variants": {}}
    print(f"{len(VARIANTS)} variants × {len(args.seeds)} seeds, {args.steps} steps each (factor mode, "
          f"{args.batch_images} crops of {args.size}² × {args.batch_pixels} pixels, lr {args.lr:g}); "
          f"{len(test)} test tiles of {len(set(sources))} photographs, {args.low_size}² input")
    per_tile: dict[str, dict[str, list]] = {}         # variant: {"x2": [per seed: (tiles,) SNR], ...}
    for k, (name, kwargs) in enumerate(VARIANTS.items()):
        runs = []
        for seed in args.seeds:
            config = TrainConfig(mode="factor", size=args.size, steps=args.steps,
                                 batch_images=args.batch_images, batch_pixels=args.batch_pixels, lr=args.lr,
                                 loss="l1", seed=seed, checkpoint_every=max(1, min(50, args.steps)))
            torch.manual_seed(seed)
            model = funknn.build("funknn", in_channels=3, **kwargs)
            suffix = "" if seed == 0 else f"_seed{seed}"
            history = funknn.train(model, train_images, config, checkpoint=out / f"variant{k}{suffix}.pt",
                                   progress=args.progress,
                                   meta={"command": f"benchmarks/design_choices.py ({name}, seed {seed})"})
            scores = evaluate(model, test, args.low_size, (2, 4), hierarchical=True, chunk=8192)
            runs.append((history, scores))
        per_tile[name] = {f"x{s}": [r[1][s]["snr"].double().numpy() for r in runs] for s in (2, 4)}
        results["variants"][name] = {
            **kwargs, "loss": [float(v) for v in runs[0][0]["loss"]],
            "snr": {col: float(np.mean(v)) for col, v in per_tile[name].items()},
            "snr_per_seed": {col: [float(x.mean()) for x in v] for col, v in per_tile[name].items()},
            "seconds": float(sum(h["seconds"] for h, _ in runs))}
    paper = next(iter(VARIANTS))
    diffs = {name: {col: stats.bootstrap_difference(np.stack(per_tile[name][col]),
                                                    np.stack(per_tile[paper][col]), sources)
                    for col in ("x2", "x4")} for name in list(VARIANTS)[1:]}
    for name, by_col in diffs.items():
        results["variants"][name]["minus_paper"] = {col: iv.as_dict() for col, iv in by_col.items()}
        results["variants"][name]["verdict"] = stats.decide_every(by_col.values())

    marks = sorted({max(1, round(f * args.steps)) for f in (0.1, 0.25, 0.5, 1.0)})
    window = max(1, min(25, args.steps // 10))
    head = "".join(f"{'loss@' + str(m):>11}" for m in marks)
    print(f"\n{'variant':34}{head}{'SNR x2':>9}{'SNR x4':>9}")
    for name, r in results["variants"].items():
        loss = np.array(r["loss"])
        at = "".join(f"{loss[max(0, m - window):m].mean():11.4f}" for m in marks)
        print(f"{name:34}{at}{r['snr']['x2']:9.2f}{r['snr']['x4']:9.2f}")
    print(f"(loss@k: mean L1 training loss of the {window} steps up to step k, seed {args.seeds[0]}; "
          "SNR in dB, mean over the seeds and test tiles)")
    print(f"\nminus the paper's network, paired 95% bootstrap interval over {len(set(sources))} photographs "
          f"and {len(args.seeds)} seeds (held: the whole interval above 0)")
    for name, by_col in diffs.items():
        print(f"{name:34}" + "; ".join(f"{col} {iv.format(signed=True)} dB: {stats.decide(iv)}"
                                       for col, iv in by_col.items()))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    if args.plot:
        plot(results, window, args.plot)
    return results


def plot(results: dict, window: int, path: str) -> None:
    """The training losses (moving mean over ``window`` steps) of the variants, in one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, r in results["variants"].items():
        loss = np.convolve(r["loss"], np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(r["loss"]) + 1), loss,
                label=f"{name}: x2 {r['snr']['x2']:.2f} dB, x4 {r['snr']['x4']:.2f} dB")
    ax.set(xlabel="step", ylabel=f"L1 loss (mean of {window} steps)", yscale="log",
           title="FunkNN's input and initialisation, equal steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("wrote", path)


if __name__ == "__main__":
    main()
