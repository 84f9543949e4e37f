"""`VideoClipObjectiveModel`: the module the Trainer trains. It holds the student, the method's extra heads and
teacher, and computes the method's loss in `forward`, so DDP/FSDP wrap one module and synchronise every trainable
tensor (student and heads) in one backward.

Only `student` is exported (`export_student`); the heads (FROSTER projectors, TACO specialization projection)
and the EMA teacher live in Trainer checkpoints only. FROSTER's frozen CLIP teacher is not registered as a
submodule: it never enters the optimizer or a checkpoint, and is rebuilt from the base model on resume.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..objectives.cross_entropy import classification_loss, video_text_logits
from ..objectives.froster import ResidualProjector, feature_distillation_loss
from ..objectives.open_mede import first_order_meta_step
from ..objectives.open_vclip import sample_interpolation_ratio
from ..objectives.taco import (
    SpecializationProjection,
    default_temperature,
    relative_structure_distillation,
    sample_anchors,
)
from .arguments import VideoClipTrainingArguments


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator determined by (seed, step, stream): per-step randomness (anchors, templates, ratios,
    augmentation) needs no saved state, so resuming from a checkpoint replays it exactly."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + stream) % (2**63 - 1))


class ClassTexts(nn.Module):
    """Tokenised prompts for every (class, template): `input_ids`/`attention_mask` of shape (N, K, L).

    With descriptions (FROSTER), the prompt is `template(name) + " " + description`.
    """

    def __init__(self, tokenizer, class_names: Sequence[str], templates: Sequence[str],
                 descriptions: Sequence[str] | None = None):
        super().__init__()
        self.class_names = list(class_names)
        self.templates = list(templates)
        prompts = []
        for index, name in enumerate(self.class_names):
            suffix = f" {descriptions[index]}" if descriptions else ""
            prompts.extend(template.format(name) + suffix for template in self.templates)
        tokens = tokenizer(prompts, padding=True, truncation=True, return_tensors="pt")
        shape = (len(self.class_names), len(self.templates), -1)
        self.register_buffer("input_ids", tokens["input_ids"].view(shape), persistent=False)
        self.register_buffer("attention_mask", tokens["attention_mask"].view(shape), persistent=False)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random template per class: (N, L) ids and mask."""
        choice = torch.randint(len(self.templates), (len(self.class_names),), generator=generator)
        choice = choice.to(self.input_ids.device)
        rows = torch.arange(len(self.class_names), device=choice.device)
        return self.input_ids[rows, choice], self.attention_mask[rows, choice]

    def flat(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All prompts: (N * K, L) ids and mask."""
        return self.input_ids.flatten(0, 1), self.attention_mask.flatten(0, 1)


def text_tower_trains(model: nn.Module) -> bool:
    return any(p.requires_grad for n, p in model.named_parameters() if "text_model" in n or "text_projection" in n)


class VideoClipObjectiveModel(nn.Module):
    """forward(pixel_values_videos (B, T, 3, S, S), labels (B,)) -> dict with `loss` and one entry per term."""

    accepts_loss_kwargs = False

    def __init__(self, student: nn.Module, args: VideoClipTrainingArguments, class_texts: ClassTexts,
                 frozen_teacher: nn.Module | None = None):
        super().__init__()
        self.method = args.method
        self.args = args
        self.student = student
        self.class_texts = class_texts
        self.extras = nn.ModuleDict()
        self.step = 0
        self._text_cache: torch.Tensor | None = None
        dim = _projection_dim(student)
        if self.method == "froster":
            if frozen_teacher is None:
                raise ValueError("method 'froster' needs the frozen CLIP teacher.")
            self.extras["vision_projector"] = ResidualProjector(dim, alpha=args.residual_alpha)
            self.extras["text_projector"] = ResidualProjector(dim, alpha=args.residual_alpha)
        if frozen_teacher is not None:
            frozen_teacher.eval().requires_grad_(False)
            self.__dict__["frozen_teacher"] = frozen_teacher  # not a submodule: no optimizer, no checkpoint
        if self.method == "taco":
            self.extras["specialization"] = SpecializationProjection(dim)
            self.ema_teacher = copy.deepcopy(student).eval().requires_grad_(False)
            # tau = (M / D) / exp(logit_scale): the RSD distributions as sharp as the model's own class
            # distributions (exp(logit_scale) = 100 for OpenAI CLIP, so (M / D) / 100 there).
            base = student.get_base_model() if hasattr(student, "get_base_model") else student
            logit_scale = min(float(base.logit_scale.detach().exp()), 100.0)
            self.temperature = args.rsd_temperature or default_temperature(args.num_anchors, dim, logit_scale)
        if self.method == "open_vclip":
            # theta_CLIP for the interpolated loss: the trainable tensors at the start (not checkpointed: rebuilt).
            self.__dict__["anchor_weights"] = {n: p.detach().clone() for n, p in student.named_parameters()
                                               if p.requires_grad}

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """Called by the Trainer for `--gradient_checkpointing`: checkpoints the student's encoder layers."""
        kwargs = {"use_reentrant": False, **(activation_checkpointing_kwargs or {})}
        student = self.student.get_base_model() if hasattr(self.student, "get_base_model") else self.student
        student.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs,
                                                every_n_layers=every_n_layers, offload=offload)

    # ------------------------------------------------------------------ embeddings
    def _frozen_text(self, model: nn.Module) -> torch.Tensor:
        """Template-ensemble class embeddings (N, D), L2-normalised, cached: the text tower does not train."""
        if self._text_cache is None or self._text_cache.device != self.class_texts.input_ids.device:
            with torch.no_grad():
                ids, mask = self.class_texts.flat()
                embeds = F.normalize(model.get_text_features(input_ids=ids, attention_mask=mask).float(), dim=-1)
                embeds = embeds.view(len(self.class_texts.class_names), len(self.class_texts.templates), -1)
                self._text_cache = F.normalize(embeds.mean(dim=1), dim=-1)
        return self._text_cache

    def class_embeddings(self, model: nn.Module, generator: torch.Generator) -> torch.Tensor:
        """(N, D): with a trainable text tower, one random template per class (FROSTER's recipe) with gradient;
        otherwise the cached template ensemble."""
        if not text_tower_trains(model):
            return self._frozen_text(model)
        ids, mask = self.class_texts.sample(generator)
        return model.get_text_features(input_ids=ids, attention_mask=mask)

    # ------------------------------------------------------------------ forward
    def forward(self, pixel_values_videos: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        method = getattr(self, f"_loss_{self.method}")
        return method(pixel_values_videos, labels)

    def _ce(self, pixel_values_videos, labels, text_generator):
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        text = self.class_embeddings(self.student, text_generator)
        logits = video_text_logits(video, text, self.student.logit_scale)
        return classification_loss(logits, labels), video, frames, text

    def _loss_ce(self, pixel_values_videos, labels):
        ce, *_ = self._ce(pixel_values_videos, labels, step_generator(self.args.seed, self.step, 1))
        return {"loss": ce, "ce": ce.detach()}

    def _loss_open_mede(self, pixel_values_videos, labels):
        return self._loss_ce(pixel_values_videos, labels)  # evaluation/logging path; training uses meta_step

    def _loss_open_vclip(self, pixel_values_videos, labels):
        """CE(theta) + w * CE(r * theta_CLIP + (1 - r) * theta), r ~ U(0, 0.6) (Open-VCLIP interpolated weights)."""
        ce, *_ = self._ce(pixel_values_videos, labels, step_generator(self.args.seed, self.step, 1))
        ratio = sample_interpolation_ratio(step_generator(self.args.seed, self.step, 2),
                                           high=self.args.interpolation_max_ratio)
        params = dict(self.student.named_parameters())
        mixed = {}
        for name, anchor in self.anchor_weights.items():
            anchor = anchor.to(params[name].device)
            mixed[name] = ratio * anchor + (1.0 - ratio) * params[name]
        video = _functional_video(self.student, mixed, pixel_values_videos)
        text = self._frozen_text(self.student) if not text_tower_trains(self.student) else _functional_text(
            self.student, mixed, *self.class_texts.sample(step_generator(self.args.seed, self.step, 1)))
        scale = mixed.get("logit_scale", self.student.logit_scale)
        interpolated = classification_loss(video_text_logits(video, text, scale), labels)
        loss = ce + self.args.interpolation_weight * interpolated
        return {"loss": loss, "ce": ce.detach(), "interpolated_ce": interpolated.detach(), "ratio": torch.tensor(ratio)}

    def _loss_froster(self, pixel_values_videos, labels):
        """CE + w * [mean(1 - cos(P_v(student frames), teacher frames)) + mean(1 - cos(P_t(student text),
        teacher text))], teacher = frozen CLIP, frame-wise."""
        generator = step_generator(self.args.seed, self.step, 1)
        ids, mask = self.class_texts.sample(generator)
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        text = self.student.get_text_features(input_ids=ids, attention_mask=mask)
        ce = classification_loss(video_text_logits(video, text, self.student.logit_scale), labels)
        teacher = self.frozen_teacher.to(pixel_values_videos.device)
        with torch.no_grad():
            teacher_frames = teacher.get_frame_features(pixel_values_videos)
            teacher_text = teacher.get_text_features(input_ids=ids, attention_mask=mask)
        student_frames = frames if frames is not None else video.unsqueeze(1)
        if student_frames.shape[1] != teacher_frames.shape[1]:  # viclip student: one token per video
            teacher_frames = teacher_frames.mean(dim=1, keepdim=True)
        vision = feature_distillation_loss(self.extras["vision_projector"](student_frames), teacher_frames)
        text_term = feature_distillation_loss(self.extras["text_projector"](text), teacher_text)
        loss = ce + self.args.distillation_weight * (vision + text_term)
        return {"loss": loss, "ce": ce.detach(), "distill_vision": vision.detach(), "distill_text": text_term.detach()}

    def _loss_taco(self, pixel_values_videos, labels):
        """CE(h(v) + v, W) + w * KL(teacher || student) of anchor-mediated class scores (TACO eq. 6-8)."""
        text_generator = step_generator(self.args.seed, self.step, 1)
        ids, mask = self.class_texts.sample(step_generator(self.args.seed, self.step, 1))
        video = self.student.get_video_features(pixel_values_videos=pixel_values_videos)
        text = self.class_embeddings(self.student, text_generator)
        specialised = self.extras["specialization"](video)
        ce = classification_loss(video_text_logits(specialised, text, self.student.logit_scale), labels)
        with torch.no_grad():
            teacher_video = self.ema_teacher.get_video_features(pixel_values_videos=pixel_values_videos)
            if text_tower_trains(self.student):
                teacher_text = self.ema_teacher.get_text_features(input_ids=ids, attention_mask=mask)
            else:
                teacher_text = text
        anchors = sample_anchors(self.args.num_anchors, video.shape[-1],
                                 generator=step_generator(self.args.seed, self.step, 3)).to(video)
        rsd = relative_structure_distillation(video, text, teacher_video, teacher_text, anchors, self.temperature)
        loss = ce + self.args.rsd_weight * rsd
        return {"loss": loss, "ce": ce.detach(), "rsd": rsd.detach()}

    # ------------------------------------------------------------------ teacher and meta-learning
    @torch.no_grad()
    def update_ema_teacher(self, momentum: float | None = None) -> None:
        """theta_t <- m * theta_t + (1 - m) * theta_s for every student parameter (trainable or not)."""
        if not hasattr(self, "ema_teacher"):
            return
        m = self.args.ema_momentum if momentum is None else momentum
        teacher = dict(self.ema_teacher.named_parameters())
        pairs = [(teacher[n], p.detach()) for n, p in self.student.named_parameters() if n in teacher]
        if m < 1.0:
            torch._foreach_mul_([t for t, _ in pairs], m)
            torch._foreach_add_([t for t, _ in pairs], [s.to(t.dtype) for t, s in pairs], alpha=1.0 - m)

    def meta_step(self, pixel_values_videos, labels, alpha: float, delta: float):
        """Open-MeDe: support = first half of the batch, query = second half; writes g_S + delta * g_Q into the
        `.grad` of the student's trainable parameters (first order, `torch.func`) and returns the losses."""
        half = pixel_values_videos.shape[0] // 2
        support = (pixel_values_videos[:half], labels[:half])
        query = (pixel_values_videos[half:], labels[half:])
        text_generator_seed = (self.args.seed, self.step)

        def loss_fn(params, batch):
            pixels, targets = batch
            video = _functional_video(self.student, params, pixels)
            if text_tower_trains(self.student):
                generator = step_generator(*text_generator_seed, 1)
                text = _functional_text(self.student, params, *self.class_texts.sample(generator))
            else:
                text = self._frozen_text(self.student)
            scale = params.get("logit_scale", self.student.logit_scale)
            return classification_loss(video_text_logits(video, text, scale), targets)

        return first_order_meta_step(self.student, loss_fn, support, query, alpha=alpha, delta=delta)


class _MethodCall(nn.Module):
    """Exposes `model.<method>` as `forward`, so `torch.func.functional_call` can run it with other tensors."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, **kwargs):
        return getattr(self.model, self.method)(**kwargs)


def _call_method(model: nn.Module, params: dict, method: str, **kwargs):
    """Run `model.<method>(**kwargs)` with `params` (names of `model.named_parameters()`) substituted."""
    wrapper = _MethodCall(model, method)
    return functional_call(wrapper, {f"model.{name}": value for name, value in params.items()}, args=(),
                           kwargs=kwargs, strict=False)


def _functional_video(model: nn.Module, params: dict, pixel_values_videos: torch.Tensor) -> torch.Tensor:
    return _call_method(model, params, "get_video_features", pixel_values_videos=pixel_values_videos)


def _functional_text(model: nn.Module, params: dict, input_ids, attention_mask) -> torch.Tensor:
    return _call_method(model, params, "get_text_features", input_ids=input_ids, attention_mask=attention_mask)


def _projection_dim(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    return int(config.projection_dim)
