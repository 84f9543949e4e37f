"""`VideoClipTrainingArguments`: `TrainingArguments` plus the fields every method shares, nothing else.

A method's own flags live in its config dataclass (`hfvideoclip.methods.<method>`), parsed from the same command
line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from transformers import TrainingArguments


@dataclass
class VideoClipTrainingArguments(TrainingArguments):
    # The collator decodes the `video` path column: keep the columns the model's forward does not name.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept False: videos are decoded late."})
    # The Trainer's NaN/Inf filter reads the loss on the host every step (a device sync that stalls a GPU's queue);
    # off by default here, so a NaN loss shows in the log rather than being hidden. Pass true to filter again.
    logging_nan_inf_filter: bool = field(default=False, metadata={
        "help": "Replace NaN/Inf training losses in the log by the running mean (a host sync per step). Default "
                "False here (transformers: True)."})
    torch_compile_regional: bool = field(default=True, metadata={
        "help": "With --torch_compile: compile each transformer block of every tower (seconds to compile; the "
                "method's own code stays eager) rather than the two towers whole (VideoClipModel.compile_towers)."})
    # ------------------------------------------------------------------ what is trained, and how
    method: str = field(default="ce", metadata={
        "help": "Objective: a registered method (hfvideoclip.methods.available_methods())."})
    adaptation: str = field(default="full", metadata={
        "help": "Trainable parameters: full, frozen_text, lora (hfvideoclip.adapters.available_adaptations())."})
    temporal_mode: str | None = field(default=None, metadata={
        "help": "Backbone temporal mode when building from CLIP (mean, vclip, viclip); default: the method's."})
    vclip_edge: str = field(default="zero", metadata={
        "help": "vclip backbone built from CLIP: 'zero' keys for the missing neighbours at the clip edges (official "
                "Open-VCLIP / FROSTER code) or 'mask' them out of the softmax (VideoClipConfig.vclip_edge)."})
    frame_pooling: str | None = field(default=None, metadata={
        "help": "How the model scores a video from its frames (VideoClipConfig.frame_pooling, saved with the model): "
                "'features' (cosine of the frame-mean feature: ViFi-CLIP, TACO, OST, MSTA) or 'logits' (per-frame "
                "logits averaged: Open-VCLIP, FROSTER, Open-MeDe); default: the method's."})
    view_pooling: str | None = field(default=None, metadata={
        "help": "How test views combine (VideoClipConfig.view_pooling, saved with the model): 'probabilities' (mean "
                "of the views' softmax: ViFi-CLIP, OST) or 'logits' (softmax of the views' mean logits: Open-VCLIP, "
                "FROSTER); default: the method's."})
    num_frames: int = field(default=8, metadata={"help": "Frames per training clip."})
    templates: str = field(default="kinetics", metadata={
        "help": "Class-text templates: 'kinetics' (28-template ensemble, TACO App. F) or 'single' ('a video of {}.')."})
    class_descriptions: str | None = field(default=None, metadata={
        "help": "FROSTER-format rephrased class descriptions {\"0\": \"Name: description\"}: a file, a folder of them "
                "(FROSTER's label_rephrase/) or paths joined by commas, matched to each vocabulary by class name. "
                "Class texts become template(name) + ' ' + description plus the bare description (FROSTER's "
                "official prompts), at training and at the final evaluation, for any method but ost."})
    projection_learning_rate: float | None = field(default=None, metadata={
        "help": "Learning rate of the method's heads (FROSTER projectors, TACO specialization projection) and of "
                "the modules X-CLIP adds to CLIP (prompt generator, mit, message tokens); default: 10 x "
                "learning_rate (TACO: 5e-5 vs 3.75e-6; X-CLIP: 10x)."})
    patch_alpha: float | None = field(default=None, metadata={
        "help": "Weight-space ensemble at export: alpha * fine-tuned + (1 - alpha) * zero-shot (Open-VCLIP 0.5, "
                "OST 0.8); None = off."})
    # ------------------------------------------------------------------ augmentation (training only)
    augment: bool = field(default=True, metadata={
        "help": "Random resized crop, flip, grayscale and temporal jitter, the same for every frame of a clip."})
    horizontal_flip: bool | None = field(default=None, metadata={
        "help": "Flip half the training videos (with --augment). Default: on unless a class name names a direction "
                "('moving left', 'swiping right'), where a mirrored video belongs to another class."})
    crop_min_area: float = field(default=0.4, metadata={
        "help": "Smallest area fraction of the random resized crop (with --augment). 0.4 rather than Inception's "
                "0.08: an action's actor must stay in the crop; the toy world's targets are a few pixels wide."})
    grayscale_probability: float = field(default=0.2, metadata={"help": "Random grayscale probability (--augment)."})
    color_jitter_probability: float = field(default=0.0, metadata={
        "help": "Colour jitter probability (--augment; MSTA: 0.8)."})
    dataloader_num_workers: int = field(default=-1, metadata={
        "help": "DataLoader workers decoding videos; -1 (default): the cores this process may use, at most 8 "
                "(hfvideoclip.data.workers.default_num_workers); 0: decode in the training process."})
    bad_video: str = field(default="raise", metadata={
        "help": "A video that cannot be decoded: 'raise' stops with its path and cause; 'skip' logs it once, keeps "
                "the batch size (a decoded video of the batch is repeated), and the run's results count them."})
    # ------------------------------------------------------------------ LoRA (peft)
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (adaptation=lora)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (adaptation=lora)."})
    lora_target_modules: str = field(default="q_proj,v_proj", metadata={"help": "Comma-separated module names."})
    # ------------------------------------------------------------------ MSTA / AdaptFormer-style adapters
    msta_dim: int = field(default=256, metadata={
        "help": "Adapter bottleneck width (adaptation=msta|adapter; MSTA Table 1: 256 base-to-novel, 128 few-shot)."})
    msta_start_layer: int = field(default=1, metadata={
        "help": "First adapted block, 1-based (MSTA Table 1: 1 zero-shot / base-to-novel, 8 few-shot)."})
    msta_end_layer: int | None = field(default=None, metadata={"help": "Last adapted block, 1-based; default: the last."})
    msta_scale: float = field(default=0.005, metadata={
        "help": "Adapter scale lambda (MSTA Eq. 8; Table 6c: 0.005)."})
    msta_dropout: float = field(default=0.1, metadata={"help": "Dropout inside the adapters (MSTA Table 1: 0.1)."})
    msta_towers: str = field(default="both", metadata={
        "help": "Adapted towers: both, vision, text (MSTA Tab. 6a 'only V' / 'only L')."})
    # ------------------------------------------------------------------ ST-Adapter
    st_adapter_dim: int | None = field(default=None, metadata={
        "help": "ST-Adapter bottleneck width (adaptation=st_adapter); default: half the vision width (384 for "
                "ViT-B/16, as the ST-Adapter release)."})
    st_adapter_kernel_size: str = field(default="3,1,1", metadata={
        "help": "Depthwise Conv3d kernel T,H,W of the ST-Adapter (odd sizes; paper/release: 3,1,1)."})
    st_adapter_position: str = field(default="attention", metadata={
        "help": "ST-Adapter placement in each vision block: attention (before the attention, the paper), mlp, both."})
    # ------------------------------------------------------------------ deep visual prompts (VPT-deep)
    prompt_tokens: int = field(default=8, metadata={
        "help": "Prompt tokens per vision block (adaptation=prompts; Vita-CLIP's K400 recipe: 8 global prompts; "
                "VPT's config: 5)."})
    prompt_dropout: float = field(default=0.0, metadata={
        "help": "Dropout on the visual prompts (adaptation=prompts; VPT's MODEL.PROMPT.DROPOUT: 0.0)."})

    def __post_init__(self):
        from ..data.workers import resolve_num_workers
        from .distributed import check_fsdp, prepare_arguments

        self.dataloader_num_workers = resolve_num_workers(self.dataloader_num_workers)
        prepare_arguments(self)  # before the process group forms: DeepSpeed installed? FSDP on CPU -> gloo
        super().__post_init__()
        from ..adapters import get_adaptation
        from ..methods import get_method

        spec = get_method(self.method)  # raises naming the registered methods
        check_fsdp(self, spec.objective_class)  # an FSDP run that cannot shard
        get_adaptation(self.adaptation)
        _check_adaptation_fields(self)
        _check_report_to(self.report_to)
        if self.bad_video not in ("raise", "skip"):
            raise ValueError(f"--bad_video must be 'raise' or 'skip', got {self.bad_video!r}.")
        if self.max_steps == 0 or self.max_steps < -1:  # transformers would train by epochs instead
            raise ValueError(f"--max_steps must be a positive number of steps, or -1 (unset: --num_train_epochs "
                             f"decides), got {self.max_steps}.")
        if self.vclip_edge not in ("zero", "mask"):
            raise ValueError(f"--vclip_edge must be 'zero' or 'mask', got {self.vclip_edge!r}.")
        if self.frame_pooling not in (None, "features", "logits"):
            raise ValueError(f"--frame_pooling must be 'features' or 'logits', got {self.frame_pooling!r}.")
        if self.view_pooling not in (None, "logits", "probabilities"):
            raise ValueError(f"--view_pooling must be 'logits' or 'probabilities', got {self.view_pooling!r}.")
        if self.templates not in ("kinetics", "single"):
            raise ValueError(f"--templates must be 'kinetics' or 'single', got {self.templates!r}.")
        if not 0.0 < self.crop_min_area <= 1.0:
            raise ValueError(f"--crop_min_area must lie in (0, 1], got {self.crop_min_area}.")
        for name in ("grayscale_probability", "color_jitter_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.msta_towers not in ("both", "vision", "text"):
            raise ValueError(f"--msta_towers must be 'both', 'vision' or 'text', got {self.msta_towers!r}.")
        if self.class_descriptions is not None:
            from ..text.class_descriptions import read_class_descriptions

            read_class_descriptions(self.class_descriptions)  # a wrong path or file fails before anything loads
        if self.patch_alpha is not None and not 0.0 <= self.patch_alpha <= 1.0:
            raise ValueError(f"--patch_alpha must lie in [0, 1], got {self.patch_alpha}.")
        if not 0.0 <= self.label_smoothing_factor <= 1.0:
            raise ValueError(f"--label_smoothing_factor must lie in [0, 1], got {self.label_smoothing_factor}.")
        _check_unhonoured(self)


# TrainingArguments fields that `VideoClipTrainer` cannot honour (its evaluation scores whole datasets with the
# evaluation harness, its collator decodes fixed-length clips, its inputs are videos): (field, set?, why and fix).
# Honoured ones, for the record: compute_metrics, preprocess_logits_for_metrics, prediction_loss_only (metrics
# without compute_metrics), batch_eval_metrics (compute_metrics called once with compute_result=True),
# include_for_metrics=["loss"] (per-video losses), eval_accumulation_steps and eval_use_gather_object (the harness
# moves every batch's logits to the CPU and gathers them as objects anyway), label_smoothing_factor (every method's
# cross-entropy; refused by ost), average_tokens_across_devices (the objectives take no loss kwargs: each process
# averages its own batch, DDP averages the gradients, which is what either value gives for equal batch sizes).
_UNHONOURED = (
    ("eval_do_concat_batches", lambda a: not a.eval_do_concat_batches,
     "evaluation scores each eval dataset whole and compute_metrics always gets (N, C) arrays; remove the flag."),
    ("include_for_metrics", lambda a: "inputs" in (a.include_for_metrics or []),
     "'inputs' would hand compute_metrics every decoded video; only 'loss' (per-video losses) is supported."),
    ("label_names", lambda a: a.label_names not in (None, ["labels"]),
     "the collator always passes the dataset's 'label' column as 'labels'; rename your column to 'label' instead."),
    ("train_sampling_strategy", lambda a: getattr(a, "train_sampling_strategy", "random") in (
        "group_by_length", "batch_rebalance"),
     "every training clip has --num_frames frames, there are no lengths to group or balance; use random or "
     "sequential."),
    ("group_by_length", lambda a: bool(getattr(a, "group_by_length", False)),
     "every training clip has --num_frames frames, there are no lengths to group; remove the flag."),
    ("length_column_name", lambda a: a.length_column_name != "length",
     "it only serves length-grouped sampling, which video clips of --num_frames frames do not use; remove the flag."),
    ("fp16_full_eval", lambda a: a.fp16_full_eval,
     "evaluation runs the student as it trains (its weights' dtype); remove the flag."),
    ("bf16_full_eval", lambda a: a.bf16_full_eval,
     "evaluation runs the student as it trains (its weights' dtype); remove the flag."),
    ("neftune_noise_alpha", lambda a: a.neftune_noise_alpha is not None,
     "NEFTune perturbs a language model's input token embeddings; hfvideoclip's inputs are videos; remove the flag."),
    ("include_num_input_tokens_seen", lambda a: a.include_num_input_tokens_seen not in ("no", False, None),
     "the inputs are videos, not tokens: nothing would be counted; remove the flag."),
    ("use_liger_kernel", lambda a: a.use_liger_kernel,
     "Liger kernels patch language models; the objective is not one; remove the flag."),
    ("past_index", lambda a: getattr(a, "past_index", -1) != -1,
     "the objectives keep no past states between steps; remove the flag."),
)


def _check_unhonoured(args) -> None:
    """A TrainingArguments field set to a value `VideoClipTrainer` would silently ignore: one line naming it."""
    for name, is_set, why in _UNHONOURED:
        if hasattr(args, name) and is_set(args):
            raise ValueError(f"--{name} {getattr(args, name)!r} has no effect in hfvideoclip training: {why}")


_TRACKERS = {"tensorboard": ("is_tensorboard_available", "tensorboard"), "wandb": ("is_wandb_available", "wandb"),
             "mlflow": ("is_mlflow_available", "mlflow"), "comet_ml": ("is_comet_available", "comet_ml"),
             "clearml": ("is_clearml_available", "clearml"), "trackio": ("is_trackio_available", "trackio")}


def _check_report_to(report_to) -> None:
    """`--report_to X` without X installed: one line naming the package, not the Trainer's traceback."""
    import transformers.integrations as integrations

    for name in report_to if isinstance(report_to, (list, tuple)) else [report_to]:
        check, package = _TRACKERS.get(str(name), (None, None))
        if check is not None and hasattr(integrations, check) and not getattr(integrations, check)():
            extra = ' (or pip install "hfvideoclip[tensorboard]")' if name == "tensorboard" else ""
            raise ValueError(f"--report_to {name}: {package} is not installed; pip install {package}{extra}, or "
                             "pass --report_to none.")


# Flags that configure one family of adaptations; set on a run of another adaptation they would do nothing.
_ADAPTATION_FIELD_PREFIXES = {"lora_": ("lora",), "msta_": ("msta", "adapter"), "st_adapter_": ("st_adapter",),
                              "prompt_": ("prompts",)}


def _check_adaptation_fields(args) -> None:
    """`--lora_r 16 --adaptation full` and the like: refused in one line, not ignored."""
    for spec in fields(args):
        for prefix, adaptations in _ADAPTATION_FIELD_PREFIXES.items():
            if (spec.name.startswith(prefix) and args.adaptation not in adaptations
                    and getattr(args, spec.name) != spec.default):
                raise ValueError(f"--{spec.name} applies to --adaptation {' / '.join(adaptations)}, not "
                                 f"{args.adaptation}; drop it or pick that adaptation.")

