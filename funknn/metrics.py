"""Image quality metrics, per image on batches.

Every function takes an estimate and a reference of the same shape (B, ...) and returns a
(B,) tensor of decibels. The reduction runs over all dimensions but the first.
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
