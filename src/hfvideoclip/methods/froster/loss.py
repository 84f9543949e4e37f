"""FROSTER: residual feature distillation from a frozen CLIP teacher (Huang et al., ICLR 2024).

The student's features go through a residual projector `z' = z + alpha * W2 GELU(W1 z)` (eq. (6)) before being
distilled towards the frozen CLIP's features; classification uses the unprojected features, and the projectors
are dropped at test time. The official code distils with a cosine distance, `1 - cos(z', z_teacher)`, averaged
over frames (vision) and over classes (text); the total loss is `CE + 2.0 * (L_vision + L_text)` (eq. (8),
beta = 2, Tab. 7).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "DEFAULT_DISTILLATION_WEIGHT",
    "DEFAULT_RESIDUAL_ALPHA",
    "ResidualProjector",
    "feature_distillation_loss",
    "froster_distillation",
]

DEFAULT_DISTILLATION_WEIGHT = 2.0
"""beta in `L = L_CE + beta * L_FD` (FROSTER eq. (8), Tab. 7)."""

DEFAULT_RESIDUAL_ALPHA = 0.1
"""alpha in the residual projector `z + alpha * proj(z)` (FROSTER eq. (6), Tab. 6)."""


class ResidualProjector(nn.Module):
    """FROSTER's residual projector `z' = z + alpha * W2(GELU(W1 z))` (corresponds to the projector of eq. (6)).

    `W1` is kaiming-initialised and `W2` zero-initialised (FROSTER Tab. 5), so the projector starts as the
    identity while `W2` still receives a gradient (`dL/dW2 = alpha * dL/dz' GELU(W1 z)^T` is non-zero).

    Args:
        dim: feature dimension `D`.
        alpha: weight of the projected branch.

    Input `(..., D)`, output `(..., D)`.
    """

    def __init__(self, dim: int, alpha: float = DEFAULT_RESIDUAL_ALPHA):
        super().__init__()
        self.dim = dim
        self.alpha = alpha
        self.proj = nn.Sequential(nn.Linear(dim, dim, bias=False), nn.GELU(), nn.Linear(dim, dim, bias=False))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.proj[0].weight)
        nn.init.zeros_(self.proj[2].weight)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.alpha * self.proj(z)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, alpha={self.alpha}"


def feature_distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance `1 - cos(student, teacher)` over all leading dimensions.

    Args:
        student: `(..., D)` student features (gradients flow).
        teacher: `(..., D)` teacher features of the same shape (detached).

    Returns:
        Scalar loss in `[0, 2]`.
    """
    if student.shape != teacher.shape:
        raise ValueError(
            f"feature_distillation_loss: student features have shape {tuple(student.shape)} but teacher features "
            f"{tuple(teacher.shape)}; distil matching frames/classes of the same dimension."
        )
    return (1.0 - F.cosine_similarity(student, teacher.detach(), dim=-1)).mean()


def froster_distillation(
    student_frames: torch.Tensor,
    teacher_frames: torch.Tensor,
    student_text: torch.Tensor,
    teacher_text: torch.Tensor,
    vision_projector: nn.Module,
    text_projector: nn.Module,
) -> dict[str, torch.Tensor]:
    """FROSTER's residual feature distillation for both towers (eq. (7) with the code's cosine distance).

    Args:
        student_frames: `(B, T, D)` per-frame student video features (or `(B, D)` video features).
        teacher_frames: same shape, frozen-CLIP features of the same frames.
        student_text: `(N, D)` student class-text features.
        teacher_text: `(N, D)` frozen-CLIP class-text features.
        vision_projector / text_projector: [`ResidualProjector`]s applied to the student features.

    Returns:
        `{"vision": L_v, "text": L_t, "total": L_v + L_t}`, scalars; the caller adds
        `DEFAULT_DISTILLATION_WEIGHT * total` to the cross-entropy.
    """
    vision = feature_distillation_loss(vision_projector(student_frames), teacher_frames)
    text = feature_distillation_loss(text_projector(student_text), teacher_text)
    return {"vision": vision, "text": text, "total": vision + text}
