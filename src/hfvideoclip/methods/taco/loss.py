"""TACO: relative structure distillation through random geometric anchors, and the specialization projection.

TACO has no public code; the paper is the spec (sections 3.2-3.3, 4.1, App. B-C). The objective is

    L = L_CE(v_hat, W) + 0.4 * L_RSD,
    L_RSD = KL( softmax(v_t Z^T Z W_t^T / tau) || softmax(v_s Z^T Z W_s^T / tau) )        (eq. (3))

with `v` (video) and `W` (class texts) L2-normalised, `Z` the `M = 200` anchors drawn from `N(0, I)` and
projected onto the unit sphere (resampled every step), the teacher an EMA of the student (momentum 0.9998,
see `ema_update_` below), and `v_hat = v + h(v)` the specialization projection,
used only in the CE branch during training (learning rate 5e-5 against 3.75e-6 for CLIP).

The temperature `tau` is not given in the paper; see [`default_temperature`].
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "RSD_WEIGHT",
    "NUM_ANCHORS",
    "EMA_MOMENTUM",
    "CLIP_LEARNING_RATE",
    "PROJECTION_LEARNING_RATE",
    "DEFAULT_TEMPERATURE",
    "default_temperature",
    "sample_anchors",
    "relative_structure_scores",
    "relative_structure_distillation",
    "SpecializationProjection",
    "ema_update_",
]

RSD_WEIGHT = 0.4
"""lambda in `L = L_CE + lambda * L_RSD` (TACO eq. (4), Tab. 12)."""

NUM_ANCHORS = 200
"""Number `M` of random geometric anchors (TACO Tab. 1(d))."""

EMA_MOMENTUM = 0.9998
"""Momentum of the EMA teacher (TACO Tab. 8; 1.0 = frozen teacher, worse)."""

CLIP_LEARNING_RATE = 3.75e-6
"""Initial learning rate of the CLIP parameters (TACO sec. 4.1, batch 192)."""

PROJECTION_LEARNING_RATE = 5e-5
"""Initial learning rate of the specialization projection (TACO sec. 4.1, Tab. 13: ratio ~10 to CLIP's)."""


def default_temperature(num_anchors: int, dim: int, logit_scale: float = 100.0, noise_ratio: float = 0.025) -> float:
    """RSD temperature: CLIP's logit scale, softened for the anchors' sampling noise (TACO does not report `tau`).

    `tau = (M + kappa) / (D * scale)` with `kappa = noise_ratio * scale^2`: `(M / D) / scale` puts the anchor score
    on the model's logits, and `1 + kappa / M` shrinks it by the share of anchor sampling noise in it.
    `M = 200, D = 512`, scale 100: 0.0087890625. Derivation and measurements: docs/methods.md ("TACO's RSD
    temperature").

    Args:
        num_anchors: number `M` of random anchors.
        dim: dimension `D` of the joint embedding space.
        logit_scale: the model's `exp(logit_scale)` (100 for OpenAI CLIP, about 19 for the toy CLIP).
        noise_ratio: `kappa / scale^2`; 0 gives `(M / D) / scale`.

    Returns:
        `tau`, a positive float.
    """
    if num_anchors <= 0 or dim <= 0 or logit_scale <= 0:
        raise ValueError(
            f"default_temperature: num_anchors, dim and logit_scale must be positive, got {num_anchors}, {dim}, "
            f"{logit_scale}."
        )
    if noise_ratio < 0:
        raise ValueError(f"default_temperature: noise_ratio must be >= 0, got {noise_ratio}.")
    kappa = noise_ratio * logit_scale**2
    return (num_anchors + kappa) / (dim * logit_scale)


DEFAULT_TEMPERATURE = default_temperature(NUM_ANCHORS, 512)
"""`tau` for `M = 200` anchors in CLIP ViT-B's 512-d joint space at logit scale 100 (= (200 + 250) / 51200 =
0.0087890625); other dimensions: call [`default_temperature`] or pass `temperature=None`."""


def sample_anchors(
    num_anchors: int,
    dim: int,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Random geometric anchors: `M` samples of `N(0, I_D)` projected onto the unit sphere (TACO resamples them
    at every step; `M = NUM_ANCHORS = 200`).

    Sampling happens in float32 on the generator's device (CPU when no generator is given and `device` is None),
    then the result is moved to `device`/`dtype`, so a seeded generator gives the same anchors whatever the
    target device and dtype.

    Returns:
        `(M, D)` tensor with unit-norm rows, uniformly distributed on the sphere.
    """
    if num_anchors <= 0 or dim <= 0:
        raise ValueError(f"sample_anchors: num_anchors and dim must be positive, got {num_anchors} and {dim}.")
    sample_device = generator.device if generator is not None else (device if device is not None else "cpu")
    anchors = torch.randn(num_anchors, dim, generator=generator, device=sample_device, dtype=torch.float32)
    anchors = F.normalize(anchors, dim=-1)
    return anchors.to(device=device if device is not None else anchors.device, dtype=dtype or torch.float32)


def relative_structure_scores(
    video: torch.Tensor, text: torch.Tensor, anchors: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Anchor-mediated scores `v Z^T Z W^T / tau` of L2-normalised `video (B, D)` and `text (N, D)`.

    `anchors` is `(M, D)`; returns `(B, N)` in at least float32 (scores reach `~1/tau`, too coarse in half
    precision). Computed as `(v Z^T)(Z W^T)`, i.e. `O(B M D + N M D + B M N)`.
    """
    dtype = torch.promote_types(video.dtype, torch.float32)
    video = F.normalize(video.to(dtype), dim=-1)
    text = F.normalize(text.to(dtype), dim=-1)
    anchors = anchors.to(device=video.device, dtype=dtype)
    return (video @ anchors.t()) @ (anchors @ text.t()) / temperature


def relative_structure_distillation(
    student_video: torch.Tensor,
    student_text: torch.Tensor,
    teacher_video: torch.Tensor,
    teacher_text: torch.Tensor,
    anchors: torch.Tensor,
    temperature: float | None = None,
) -> torch.Tensor:
    """TACO's relative structure distillation loss (eq. (3)).

    Args:
        student_video: `(B, D)` student video embeddings (unnormalised is fine).
        student_text: `(N, D)` student class-text embeddings.
        teacher_video: `(B, D)` teacher (EMA) video embeddings; detached.
        teacher_text: `(N, D)` teacher class-text embeddings; detached.
        anchors: `(M, D)` unit-norm anchors from [`sample_anchors`] (treated as constants).
        temperature: `tau`; `None` uses `default_temperature(M, D)`.

    Returns:
        Scalar `1/B sum_b sum_n p_t[b, n] (log p_t[b, n] - log p_s[b, n])`, the batch mean of
        `KL(softmax(teacher scores) || softmax(student scores))` over the `N` classes.
    """
    if student_video.shape != teacher_video.shape or student_text.shape != teacher_text.shape:
        raise ValueError(
            "relative_structure_distillation: student and teacher shapes differ "
            f"(video {tuple(student_video.shape)} vs {tuple(teacher_video.shape)}, text "
            f"{tuple(student_text.shape)} vs {tuple(teacher_text.shape)}); feed the same batch and classes to both."
        )
    if anchors.dim() != 2 or anchors.shape[1] != student_video.shape[-1]:
        raise ValueError(
            f"relative_structure_distillation: anchors must be (M, {student_video.shape[-1]}), got "
            f"{tuple(anchors.shape)}; sample them with sample_anchors(M, dim)."
        )
    if temperature is None:
        temperature = default_temperature(anchors.shape[0], anchors.shape[1])
    anchors = anchors.detach()
    with torch.no_grad():
        teacher_log_probs = F.log_softmax(
            relative_structure_scores(teacher_video.detach(), teacher_text.detach(), anchors, temperature), dim=-1
        )
    student_log_probs = F.log_softmax(
        relative_structure_scores(student_video, student_text, anchors, temperature), dim=-1
    )
    return F.kl_div(student_log_probs, teacher_log_probs, reduction="batchmean", log_target=True)


class SpecializationProjection(nn.Module):
    """TACO's specialization projection `v_hat = v + h(v)`, `h = W2 W1` (two linear layers, no activation).

    Used only on the CE branch during training; discard it at evaluation (TACO Tab. 10).

    Initialisation. TACO writes "a residual linear projection with zero-initialized parameters [13]", citing LoRA.
    Zero-initialising *both* layers would freeze them forever (`dL/dW2 = g (W1 v)^T = 0` and
    `dL/dW1 = W2^T g v^T = 0`). We follow LoRA, which the paper cites for this: `W1` random (kaiming-uniform, the
    `nn.Linear` default) and `W2` zero. Then `h(v) = 0` at the start (the projection is the identity, "no abrupt
    shift"), `W2` receives a non-zero gradient at the first step and `W1` from the second step on.

    Bias. Off by default: `h` stays a linear map, so the optimisation branch cannot learn an input-independent
    offset of every video embedding (a class prior shortcut) and stays "close to the original representation
    space" as the paper asks. `bias=True` adds zero-initialised biases.

    Args:
        dim: embedding dimension `D`.
        hidden_dim: width of the intermediate layer (default `D`).
        bias: whether the linear layers have biases.

    Input `(..., D)`, output `(..., D)`.
    """

    def __init__(self, dim: int, hidden_dim: int | None = None, bias: bool = False):
        super().__init__()
        self.dim = dim
        self.hidden_dim = hidden_dim or dim
        self.down = nn.Linear(dim, self.hidden_dim, bias=bias)
        self.up = nn.Linear(self.hidden_dim, dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.down.reset_parameters()  # kaiming-uniform weight
        nn.init.zeros_(self.up.weight)
        for layer in (self.down, self.up):
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v + self.up(self.down(v))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, hidden_dim={self.hidden_dim}"


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float = EMA_MOMENTUM) -> int:
    """TACO's EMA teacher step, in place: `theta_t <- m * theta_t + (1 - m) * theta_s` for every parameter the two
    modules share by name (trainable or not); buffers are copied from the student. Returns how many parameters were
    updated (`m = 1` keeps the teacher frozen)."""
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"ema_update_: momentum must lie in [0, 1], got {momentum}.")
    student_params = dict(student.named_parameters())
    pairs = []
    for name, target in teacher.named_parameters():
        source = student_params.get(name)
        if source is None:
            continue
        if source.shape != target.shape:
            raise ValueError(f"ema_update_: {name!r} has shape {tuple(source.shape)} in the student but "
                             f"{tuple(target.shape)} in the teacher; the teacher must be a copy of the student.")
        pairs.append((target, source.detach().to(device=target.device, dtype=target.dtype)))
    if not pairs:
        raise ValueError("ema_update_: the student and the teacher share no parameter name; build the teacher as "
                         "copy.deepcopy(student).")
    if momentum < 1.0:
        torch._foreach_mul_([t for t, _ in pairs], float(momentum))
        torch._foreach_add_([t for t, _ in pairs], [s for _, s in pairs], alpha=1.0 - float(momentum))
    student_buffers = dict(student.named_buffers())
    for name, buffer in teacher.named_buffers():
        source = student_buffers.get(name)
        if source is not None and source.shape == buffer.shape:
            buffer.copy_(source)
    return len(pairs)
