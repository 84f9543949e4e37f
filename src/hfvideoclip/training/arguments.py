"""`VideoClipTrainingArguments`: `TrainingArguments` plus the fields of our methods, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

METHODS = ("ce", "open_vclip", "froster", "taco", "open_mede")
ADAPTATIONS = ("full", "frozen_text", "lora")


@dataclass
class VideoClipTrainingArguments(TrainingArguments):
    # The collator decodes the `video` path column: keep the columns the model's forward does not name.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept False: videos are decoded late."})
    # ------------------------------------------------------------------ what is trained, and how
    method: str = field(default="ce", metadata={"help": f"Objective: one of {', '.join(METHODS)}."})
    adaptation: str = field(default="full", metadata={"help": f"Trainable parameters: {', '.join(ADAPTATIONS)}."})
    temporal_mode: str | None = field(default=None, metadata={
        "help": "Backbone temporal mode when building from CLIP (mean, vclip, viclip); default: the method's."})
    num_frames: int = field(default=8, metadata={"help": "Frames per training clip."})
    templates: str = field(default="kinetics", metadata={
        "help": "Class-text templates: 'kinetics' (28-template ensemble, TACO App. F) or 'single' ('a video of {}.')."})
    description_file: str | None = field(default=None, metadata={
        "help": "FROSTER-format class descriptions JSON {\"0\": \"Name: description\"}, appended to the prompts."})
    projection_learning_rate: float | None = field(default=None, metadata={
        "help": "Learning rate of method-specific heads (FROSTER projectors, TACO specialization projection); "
                "default: 10 x learning_rate (TACO: 5e-5 vs 3.75e-6)."})
    augment: bool = field(default=True, metadata={
        "help": "Random resized crop + horizontal flip (same for every frame), seeded per step for exact resume."})
    horizontal_flip: bool | None = field(default=None, metadata={
        "help": "Flip half the training videos (with --augment). Default: on unless a class name names a direction "
                "('moving left', 'swiping right'), where a mirrored video belongs to another class."})
    crop_min_area: float = field(default=0.4, metadata={
        "help": "Smallest area fraction of the random resized crop (with --augment). 0.4 rather than Inception's "
                "0.08: an action's actor must stay in the crop; the toy world's targets are a few pixels wide."})
    # ------------------------------------------------------------------ LoRA (peft)
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (adaptation=lora)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (adaptation=lora)."})
    lora_target_modules: str = field(default="q_proj,v_proj", metadata={"help": "Comma-separated module names."})
    # ------------------------------------------------------------------ open_vclip
    interpolation_weight: float = field(default=0.5, metadata={"help": "Open-VCLIP interpolated-loss weight."})
    interpolation_max_ratio: float = field(default=0.6, metadata={"help": "r ~ U(0, this)."})
    patch_alpha: float | None = field(default=None, metadata={
        "help": "Test-time weight patching alpha*finetuned + (1-alpha)*CLIP (open_vclip: 0.5); None = off."})
    swa: bool = field(default=False, metadata={"help": "Uniform average of epoch snapshots exported (Open-VCLIP SWA)."})
    # ------------------------------------------------------------------ froster
    distillation_weight: float = field(default=2.0, metadata={"help": "FROSTER distillation weight."})
    residual_alpha: float = field(default=0.1, metadata={"help": "FROSTER residual projector alpha."})
    average_start_epoch: int | None = field(default=None, metadata={
        "help": "FROSTER: uniform average of epoch checkpoints from this epoch (paper: 2) ..."})
    average_end_epoch: int | None = field(default=None, metadata={"help": "... to this epoch (paper: 22)."})
    # ------------------------------------------------------------------ taco
    rsd_weight: float = field(default=0.4, metadata={"help": "TACO relative structure distillation weight."})
    num_anchors: int = field(default=200, metadata={"help": "TACO anchors M, resampled every step."})
    rsd_temperature: float | None = field(default=None, metadata={
        "help": "TACO tau; default (M/D)/exp(logit_scale) of the initial model ((M/D)/100 for OpenAI CLIP) puts the "
                "anchor-mediated score on the model's own logit scale."})
    ema_momentum: float = field(default=0.9998, metadata={"help": "TACO EMA teacher momentum (1.0 = frozen)."})
    # ------------------------------------------------------------------ open_mede
    meta_inner_lr: float | None = field(default=None, metadata={
        "help": "Open-MeDe alpha (inner step); default: the current learning rate (paper: alpha = beta)."})
    meta_query_weight: float = field(default=1.67e-3, metadata={"help": "Open-MeDe delta."})
    gwa: bool = field(default=False, metadata={"help": "Gaussian weight averaging of snapshots (Open-MeDe)."})
    gwa_mu: float | None = field(default=None, metadata={"help": "GWA mean (snapshot index); default: middle."})
    gwa_sigma: float | None = field(default=None, metadata={"help": "GWA std; default: see objectives.open_mede."})
    gwa_every_n_steps: int | None = field(default=None, metadata={"help": "Snapshot period; default: every epoch."})

    def __post_init__(self):
        super().__post_init__()
        if self.method not in METHODS:
            raise ValueError(f"--method {self.method!r} is not available; choose one of {', '.join(METHODS)}.")
        if self.adaptation not in ADAPTATIONS:
            raise ValueError(f"--adaptation {self.adaptation!r} is not available; choose one of "
                             f"{', '.join(ADAPTATIONS)}.")
        if self.templates not in ("kinetics", "single"):
            raise ValueError(f"--templates must be 'kinetics' or 'single', got {self.templates!r}.")
        if not 0.0 < self.crop_min_area <= 1.0:
            raise ValueError(f"--crop_min_area must lie in (0, 1], got {self.crop_min_area}.")
        if not 0.0 <= self.ema_momentum <= 1.0:
            raise ValueError(f"--ema_momentum must lie in [0, 1], got {self.ema_momentum}.")
        if self.patch_alpha is not None and not 0.0 <= self.patch_alpha <= 1.0:
            raise ValueError(f"--patch_alpha must lie in [0, 1], got {self.patch_alpha}.")
        if (self.average_start_epoch is None) != (self.average_end_epoch is None):
            raise ValueError("--average_start_epoch and --average_end_epoch go together.")
        if self.method == "open_mede" and self.per_device_train_batch_size < 2:
            raise ValueError("--method open_mede splits every batch into a support and a query half: use "
                             "--per_device_train_batch_size >= 2.")
        if self.method == "open_mede" and self.gradient_accumulation_steps != 1:
            raise ValueError("--method open_mede takes one meta step per batch; use gradient_accumulation_steps=1 "
                             "(a larger batch gives more tasks per step).")
