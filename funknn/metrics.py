"""Image quality metrics, per image on batches.

The image metrics take an estimate and a reference of the same shape (B, ...) and return a
(B,) tensor of decibels; the reduction runs over all dimensions but the first.
:func:`precision_recall` measures a generative model's samples against real ones.
"""

from __future__ import annotations

import torch


def _check_pair(estimate: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if estimate.shape != reference.shape:
        raise ValueError(f"estimate and reference must have the same shape, got "
                         f"{tuple(estimate.shape)} and {tuple(reference.shape)}")
    if estimate.dim() < 2:
        raise ValueError(f"expected batched tensors of shape (B, ...), got shape {tuple(estimate.shape)}")
    return estimate.flatten(1).double(), reference.flatten(1).double()


def snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    r"""Signal-to-noise ratio :math:`10\log_{10}(\|x\|^2 / \|x - \hat x\|^2)` per image.

    Args:
        estimate, reference: (B, ...) tensors.

    Returns:
        (B,) SNR in dB (``inf`` where the estimate is exact).

    Example:
        >>> snr(torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 2.0]]))
        tensor([6.9897], dtype=torch.float64)
    """
    e, r = _check_pair(estimate, reference)
    return 10 * torch.log10(r.pow(2).sum(1) / (r - e).pow(2).sum(1))


def _affine(e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Least-squares a·e + b ≈ r per row of flattened (B, N) tensors."""
    em, rm = e.mean(1, keepdim=True), r.mean(1, keepdim=True)
    ec = e - em
    var = ec.pow(2).sum(1)
    a = torch.where(var > 0, (ec * (r - rm)).sum(1) / var.clamp_min(torch.finfo(var.dtype).tiny),
                    torch.zeros_like(var)).unsqueeze(1)
    return a * ec + rm


def affine_fit(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    r"""The estimate after the best scale and shift per image, :math:`a\hat x + b` with
    :math:`(a, b) = \arg\min \|a\hat x + b - x\|^2` (what :func:`si_snr` measures; useful to show
    reconstructions that are only known up to an affine map).

    Returns:
        A tensor of the estimate's shape and dtype.
    """
    e, r = _check_pair(estimate, reference)
    return _affine(e, r).view(estimate.shape).to(estimate.dtype)


def si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    r"""Scale-and-shift-invariant SNR: the SNR of the best affine fit :math:`a\hat x + b` to
    :math:`x`, in closed form (least squares per image).

    Args:
        estimate, reference: (B, ...) tensors.

    Returns:
        (B,) SI-SNR in dB.
    """
    e, r = _check_pair(estimate, reference)
    return 10 * torch.log10(r.pow(2).sum(1) / (r - _affine(e, r)).pow(2).sum(1))


def psnr(estimate: torch.Tensor, reference: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    r"""Peak SNR :math:`10\log_{10}(\mathrm{range}^2 / \mathrm{MSE})` per image.

    Args:
        estimate, reference: (B, ...) tensors.
        data_range: peak-to-peak range of the signal (1 for images in [0, 1]).

    Returns:
        (B,) PSNR in dB.
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    e, r = _check_pair(estimate, reference)
    return 10 * torch.log10(data_range ** 2 / (r - e).pow(2).mean(1))


def _knn_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row."""
    distances = torch.cdist(features, features)
    return distances.kthvalue(k + 1, dim=1).values        # the 0-th neighbour is the row itself


def precision_recall(real: torch.Tensor, generated: torch.Tensor, k: int = 3) -> dict[str, float]:
    r"""Improved precision and recall of a generative model (Kynkäänniemi et al., NeurIPS 2019).

    Each set's support is estimated as the union of balls around its samples, each ball reaching
    the sample's k-th nearest neighbour within its own set. *Precision* is the share of generated
    samples inside the real support (samples look like the data); *recall* the share of real
    samples inside the generated support (the data's variety is covered).

    Args:
        real: (N, ...) real samples or their features (flattened per sample).
        generated: (M, ...) generated samples, the same feature space.
        k: neighbourhood size (the paper: 3).

    Returns:
        ``{"precision": float, "recall": float}`` in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> data = torch.randn(200, 2, generator=g)
        >>> pr = precision_recall(data, 0.1 * torch.randn(200, 2, generator=g))
        >>> pr["precision"] > 0.9 and pr["recall"] < 0.5     # collapsed onto the mode
        True
    """
    r, g = real.flatten(1).double(), generated.flatten(1).double()
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"real and generated features differ in size: {r.shape[1]} vs {g.shape[1]}")
    if min(len(r), len(g)) <= k:
        raise ValueError(f"need more than k = {k} samples in each set, got {len(r)} and {len(g)}")
    cross = torch.cdist(g, r)                                            # (M, N)
    precision = (cross <= _knn_radii(r, k)[None, :]).any(dim=1).double().mean()
    recall = (cross.T <= _knn_radii(g, k)[None, :]).any(dim=1).double().mean()
    return {"precision": float(precision), "recall": float(recall)}
