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


def si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    r"""Scale-and-shift-invariant SNR: the SNR of the best affine fit :math:`a\hat x + b` to
    :math:`x`, in closed form (least squares per image).

    Args:
        estimate, reference: (B, ...) tensors.

    Returns:
        (B,) SI-SNR in dB.
    """
    e, r = _check_pair(estimate, reference)
    ec = e - e.mean(1, keepdim=True)
    rc = r - r.mean(1, keepdim=True)
    var = ec.pow(2).sum(1)
    a = torch.where(var > 0, (ec * rc).sum(1) / var.clamp_min(torch.finfo(var.dtype).tiny),
                    torch.zeros_like(var))
    residual = rc - a.unsqueeze(1) * ec
    return 10 * torch.log10(r.pow(2).sum(1) / residual.pow(2).sum(1))


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
