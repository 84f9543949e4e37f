"""What every method plug-in is made of: a config dataclass of its own flags and an `Objective` module.

The `Objective` is the module the Trainer trains. It holds the student `VideoClipModel` (possibly wrapped by an
adaptation such as peft's LoRA), the method's heads (`self.heads`, trained at `--projection_learning_rate`,
dropped at export) and its teachers, and returns named loss terms from `forward`, the total under `"loss"`. DDP
and FSDP wrap this one module, so every trainable tensor (student and heads) is synchronised by one backward.

Optional hooks: `custom_training_step` (meta-learning replaces the ordinary backward), `callbacks`,
`on_optimizer_step` (teacher updates), `export` (what the exported student becomes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.func import functional_call

from ..models.video_clip.modeling_video_clip import VideoClipModel
from .common.cross_entropy import classification_loss

if TYPE_CHECKING:
    from ..text.class_texts import ClassTexts
    from ..training.arguments import VideoClipTrainingArguments


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator determined by (seed, step, stream): per-step randomness (anchors, templates, ratios) needs no
    saved state, so resuming from a checkpoint replays it exactly."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + stream) % (2**63 - 1))


@dataclass
class MethodConfig:
    """Base class of a method's own flags. Subclasses are dataclasses whose fields carry `help` metadata; they are
    parsed from the same command line as `VideoClipTrainingArguments` and shown under their own `--help` group."""

    _argument_group_name: ClassVar[str] = "method options"

    def validate(self, args: VideoClipTrainingArguments) -> None:
        """Raise a ValueError for settings that conflict with the shared training arguments."""

    def inactive_fields(self) -> set[str]:
        """Names of this config's fields, and of shared training arguments, that a run with these settings ignores
        (e.g. `projection_learning_rate` when the objective has no heads, SWA settings with SWA off): the model
        card leaves them out of the hyperparameters. Default: none."""
        return set()


@dataclass
class ObjectiveContext:
    """What an objective is built from besides the student and its config.

    Attributes:
        args: the shared training arguments (seed, learning rate, templates...).
        class_texts: tokenised prompts of the training vocabulary, (C, K, L).
        zero_shot_model: a frozen copy of the student before adaptation and training (built when the objective
            class sets `needs_zero_shot_model`), e.g. FROSTER's teacher.
    """

    args: VideoClipTrainingArguments
    class_texts: ClassTexts
    zero_shot_model: nn.Module | None = None


def base_model(student: nn.Module) -> nn.Module:
    """The `VideoClipModel` inside an adaptation wrapper (peft's `PeftModel`), or `student` itself."""
    return student.get_base_model() if hasattr(student, "get_base_model") else student


def text_tower_trains(model: nn.Module) -> bool:
    """Whether any text-tower parameter (text model or text projection) requires a gradient."""
    return any(p.requires_grad for n, p in model.named_parameters() if "text_model" in n or "text_projection" in n)


class _StudentScores(nn.Module):
    """`forward` = class logits of a batch of videos, so `torch.func.functional_call` can run the whole scoring with
    substituted weights (interpolated or fast weights)."""

    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student

    def forward(self, pixel_values_videos, input_ids=None, attention_mask=None, class_embeds=None):
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        if class_embeds is None:
            class_embeds = self.student.get_class_embeddings(input_ids=input_ids, attention_mask=attention_mask)
        return self.student.compute_logits(video, class_embeds, frame_embeds=frames)


class Objective(nn.Module):
    """Base of every method's training module: `forward(pixel_values_videos (B, T, 3, S, S), labels (B,))` ->
    `{"loss": total, <term>: detached scalar, ...}`.

    Class attributes a method sets: `config_class`, `default_temporal_mode` (backbone when starting from CLIP),
    `default_frame_pooling` / `default_view_pooling` (scoring, `VideoClipConfig`),
    `description` (one line for model cards), `needs_zero_shot_model`, `interpolates_weights`,
    `has_custom_training_step`, `has_unused_parameters`, `backbone_needs`.
    """

    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    default_temporal_mode: ClassVar[str] = "mean"
    # How the model scores frames and combines test views (VideoClipConfig.frame_pooling / view_pooling), as the
    # method's official code does; saved with the exported model. ViFi-CLIP's lineage: features, probabilities.
    default_frame_pooling: ClassVar[str] = "features"
    default_view_pooling: ClassVar[str] = "probabilities"
    description: ClassVar[str] = ""
    needs_zero_shot_model: ClassVar[bool] = False
    interpolates_weights: ClassVar[bool] = False  # the loss runs the model at other weights (Open-VCLIP)
    has_custom_training_step: ClassVar[bool] = False
    # Whether a training step can leave a trainable parameter without a gradient (a branch skipped on some steps):
    # DDP then needs find_unused_parameters=True (hfvideoclip.training.distributed). False costs DDP no extra graph
    # traversal; every shipped method gives every trainable parameter a gradient each step (tests/training/
    # test_unused_parameters.py checks the declared value against one step of each method).
    has_unused_parameters: ClassVar[bool] = False
    # What the objective needs of the backbone beyond video embeddings, class embeddings and `compute_logits`, as
    # {feature: what it is used for}. A backbone that lacks one (its `backbone_features`, e.g. X-CLIP's: none) is
    # refused when the trainer is built (training.builder); `VideoClipModel` has them all.
    backbone_needs: ClassVar[dict[str, str]] = {}
    # The forward takes no **kwargs: the Trainer then scales the loss for gradient accumulation itself.
    accepts_loss_kwargs = False

    def __init__(self, student: nn.Module, config: MethodConfig, context: ObjectiveContext):
        super().__init__()
        self.student = student
        self.config = config
        self.args = context.args
        self.class_texts = context.class_texts
        self.heads = nn.ModuleDict()  # trained at --projection_learning_rate, never exported
        self.step = 0  # the optimizer step being computed; set by the trainer before each forward
        self._text_cache: torch.Tensor | None = None

    # ------------------------------------------------------------------ what a method implements
    def loss(self, pixel_values_videos: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement loss(pixel_values_videos, labels).")

    def forward(self, pixel_values_videos: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.loss(pixel_values_videos, labels)

    def custom_training_step(self, trainer, model: nn.Module, pixel_values_videos: torch.Tensor,
                             labels: torch.Tensor) -> torch.Tensor:
        """Replaces forward + backward when `has_custom_training_step`: writes the gradients of the trainable
        parameters and returns the detached loss to log."""
        raise NotImplementedError

    def callbacks(self) -> list:
        """Trainer callbacks the method needs (weight averaging...)."""
        return []

    def on_optimizer_step(self) -> None:
        """Called after every optimizer step (e.g. an EMA teacher update)."""

    def export(self, student: nn.Module) -> nn.Module:
        """The model to save, given the plain `VideoClipModel` (adaptations already merged). Default: unchanged."""
        return student

    def save_extras(self, output_dir: str) -> None:
        """Files the exported model needs besides its weights (OST: its descriptors). Default: none."""

    # ------------------------------------------------------------------ shared helpers
    @property
    def label_smoothing(self) -> float:
        """`--label_smoothing_factor`: the smoothing of every classification cross-entropy of the method."""
        return float(getattr(self.args, "label_smoothing_factor", 0.0) or 0.0)

    def cross_entropy(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The classification loss of every method (`objectives.cross_entropy.classification_loss`): mean
        cross-entropy of `(B, C)` logits against `(B,)` labels, smoothed by `--label_smoothing_factor`, i.e.
        `F.cross_entropy(logits, labels, label_smoothing=args.label_smoothing_factor)`."""

        return classification_loss(logits, labels, label_smoothing=self.label_smoothing)

    @property
    def projection_dim(self) -> int:
        return int(base_model(self.student).config.projection_dim)

    def generator(self, stream: int) -> torch.Generator:
        """The CPU generator of `stream` at the current step (see `step_generator`)."""
        return step_generator(self.args.seed, self.step, stream)

    def frozen_class_embeddings(self) -> torch.Tensor:
        """Template-ensemble class embeddings (C, D), L2-normalised (`ClassTexts.ensemble`), cached while the text tower
        does not train."""
        ids, mask = self.class_texts.ensemble()  # (C, K, L); K + 1 with the bare description (--class_descriptions)
        if self._text_cache is None or self._text_cache.device != ids.device:
            with torch.no_grad():
                self._text_cache = self.student.get_class_embeddings(input_ids=ids, attention_mask=mask).float()
        return self._text_cache

    def class_embeddings(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """(C, D): with a trainable text tower, one random template per class (FROSTER's recipe) with gradient;
        otherwise the cached template ensemble."""
        if not text_tower_trains(self.student):
            return self.frozen_class_embeddings()
        ids, mask = self.class_texts.sample(generator if generator is not None else self.generator(1))
        return self.student.get_class_embeddings(input_ids=ids, attention_mask=mask)

    def scores_with(self, params: dict[str, torch.Tensor], pixel_values_videos: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, C) class logits computed with `params` (names of `student.named_parameters()`) in place of the
        student's own tensors; the text side as in `class_embeddings`."""
        kwargs: dict[str, Any] = {"pixel_values_videos": pixel_values_videos}
        if text_tower_trains(self.student):
            kwargs["input_ids"], kwargs["attention_mask"] = self.class_texts.sample(
                generator if generator is not None else self.generator(1))
        else:
            kwargs["class_embeds"] = self.frozen_class_embeddings()
        scorer = _StudentScores(self.student)
        return functional_call(scorer, {f"student.{name}": value for name, value in params.items()}, args=(),
                               kwargs=kwargs, strict=False)

    def compile_towers(self, regional: bool = True, **compile_kwargs) -> Objective:
        """`torch.compile` the transformer towers of every model this objective runs (student, teachers), in
        place; returns `self`. `regional=True`: each transformer block (`GradientCheckpointingLayer`, adapted
        blocks included) is compiled and the method's own code stays eager, so `functional_call` with
        interpolated or fast weights, EMA updates and `no_grad` teachers run unchanged; `regional=False`:
        each `VideoClipModel`'s vision and text transformers whole. `compile_kwargs` go to `torch.compile`."""

        for module in self.modules():  # the student's base model (inside any adapter wrapper) and the teachers
            if isinstance(module, VideoClipModel):
                module.compile_towers(regional=regional, **compile_kwargs)
        return self

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """Called by the Trainer for `--gradient_checkpointing`: checkpoints the student's encoder layers."""
        kwargs = {"use_reentrant": False, **(activation_checkpointing_kwargs or {})}
        model = base_model(self.student)
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs,
                                                  every_n_layers=every_n_layers, offload=offload)
        else:  # transformers < 5.23 names it gradient checkpointing (every layer, no offload)
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        """What the Trainer of transformers < 5.23 calls for `--gradient_checkpointing`."""
        self.activation_checkpointing_enable(gradient_checkpointing_kwargs)


__all__ = ["MethodConfig", "Objective", "ObjectiveContext", "base_model", "step_generator", "text_tower_trains"]
