"""Every user error of every subcommand is one line ``error: …`` on stderr with exit status 2."""

import numpy as np
import pytest
from PIL import Image

import funknn
from funknn.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    funknn.save(funknn.FunkNN(3, network="mlp"), d / "m.pt")
    (d / "bad.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((6, 5, 3), dtype=np.uint8)).save(d / "low.png")
    (d / "broken.yaml").write_text("task: super-resolution\ntraining: {steps: [1}\n")
    (d / "unknown.yaml").write_text("training:\n  stepz: 3\n")
    (d / "typed.yaml").write_text("training:\n  steps: many\n")
    (d / "model.yaml").write_text("model:\n  name: nonet\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    return d


def _render(d, **change):
    args = {"--checkpoint": d / "m.pt", "--input": d / "low.png", "--output": d / "o.png"}
    args.update({k: d / v for k, v in change.items() if k != "extra"})
    line = ["render"] + [str(x) for kv in args.items() for x in kv] + ["--size", "4", "4"]
    return line + change.get("extra", [])


CASES = {
    # render
    "render: unreadable image": (lambda d: _render(d, **{"--input": "bad.png"}), "is not a readable image"),
    "render: missing image": (lambda d: _render(d, **{"--input": "none.png"}), "does not exist"),
    "render: missing checkpoint": (lambda d: _render(d, **{"--checkpoint": "none.pt"}), "does not exist"),
    "render: an image as checkpoint": (lambda d: _render(d, **{"--checkpoint": "low.png"}), "corrupt"),
    "render: unknown output format": (lambda d: _render(d, **{"--output": "o.xyz"}), "cannot write --output"),
    "render: output folder missing": (lambda d: _render(d, **{"--output": "no/o.png"}),
                                      "cannot write --output"),
    "render: zero size": (lambda d: _render(d)[:-2] + ["0", "4"], "--size must be positive"),
    "render: zero chunk": (lambda d: _render(d, extra=["--chunk", "0"]), "chunk must be positive"),
    # evaluate
    "evaluate: missing checkpoint": (lambda d: ["evaluate", "--checkpoint", str(d / "none.pt")],
                                     "does not exist"),
    "evaluate: zero tile": (lambda d: ["evaluate", "--tile", "0"], "tile must be positive"),
    "evaluate: zero scale": (lambda d: ["evaluate", "--scales", "0"], "scales must be positive"),
    "evaluate: missing folder": (lambda d: ["evaluate", "--data", str(d / "faces")], "data/README.md"),
    "evaluate: bumps": (lambda d: ["evaluate", "--data", "bumps"], "grey"),
    # train
    "train: missing folder": (lambda d: ["train", "--data", str(d / "faces"), "--out", str(d / "x.pt")],
                              "data/README.md"),
    "train: zero steps": (lambda d: ["train", "--steps", "0", "--out", str(d / "x.pt")],
                          "steps must be positive"),
    "train: even patch": (lambda d: ["train", "--patch-size", "4", "--out", str(d / "x.pt")], "patch_size"),
    "train: no out": (lambda d: ["train", "--steps", "2"], "needs --out"),
    "train: unknown model": (lambda d: ["train", "--model", "nonet", "--out", "x"],
                             "invalid choice: 'nonet'"),
    "train: bad mode": (lambda d: ["train", "--mode", "magic", "--out", "x"], "invalid choice: 'magic'"),
    "train: bad number": (lambda d: ["train", "--lr", "abc", "--out", "x"], "invalid float value"),
    "train: unknown option": (lambda d: ["train", "--stepz", "2", "--out", "x"], "unrecognized arguments"),
    "train: missing recipe": (lambda d: ["train", "--config", str(d / "none.yaml")], "does not exist"),
    "train: recipe not YAML": (lambda d: ["train", "--config", str(d / "broken.yaml")], "not a YAML recipe"),
    "train: recipe unknown key": (lambda d: ["train", "--config", str(d / "unknown.yaml")],
                                  "unknown.yaml: unknown key 'stepz' in training"),
    "train: recipe wrong type": (lambda d: ["train", "--config", str(d / "typed.yaml")],
                                 "typed.yaml: steps must be int, got 'many'"),
    "train: recipe unknown model": (lambda d: ["train", "--config", str(d / "model.yaml")],
                                    "model.yaml: unknown model 'nonet'"),
    "train: recipe not a mapping": (lambda d: ["train", "--config", str(d / "list.yaml")],
                                    "must be a mapping"),
    # the generative prior
    "train-autoencoder: size": (lambda d: ["train-autoencoder", "--size", "12", "--out", str(d / "a.pt")],
                                "power of two"),
    "train-autoencoder: photos": (lambda d: ["train-autoencoder", "--data", "photos",
                                  "--out", str(d / "a.pt")],
                                  "not a set of grey images"),
    "train-autoencoder: vgg": (lambda d: ["train-autoencoder", "--perceptual", "vgg",
                               "--out", str(d / "a.pt")],
                               "needs vgg_weights"),
    "train-flow: no autoencoder": (lambda d: ["train-flow", "--out", str(d / "f.pt")], "needs --autoencoder"),
    "train-flow: not an autoencoder": (lambda d: ["train-flow", "--autoencoder", str(d / "m.pt"),
                                                  "--out", str(d / "f.pt")], "not an autoencoder"),
    "train-flow: missing autoencoder": (lambda d: ["train-flow", "--autoencoder", str(d / "none.pt"),
                                                   "--out", str(d / "f.pt")], "does not exist"),
    "train-gasp: r1": (lambda d: ["train-gasp", "--r1-every", "0", "--out", str(d / "g.pt")],
                       "r1_every must be positive"),
    "train-gasp: betas": (lambda d: ["train-gasp", "--betas", "0.5", "--out", "g"], "expected 2 arguments"),
    "train-gasp: recipe of another task": (lambda d: ["train-gasp", "--config", "configs/photos_factor.yaml"],
                                           "is a recipe of train"),
    # release and the command itself
    "release: missing": (lambda d: ["release", str(d / "none.pt")], "does not exist"),
    "release: not a checkpoint": (lambda d: ["release", str(d / "low.png")], "corrupt"),
    "no such command": (lambda d: ["nosuch"], "invalid choice: 'nosuch'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line_with_status_2(case, files, capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    argv, expected = CASES[case]
    try:
        code = main(argv(files))
    except SystemExit as stop:                      # argparse's own errors
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0], err[0]
