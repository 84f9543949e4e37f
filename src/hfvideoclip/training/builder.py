"""`build_trainer`: student, adaptation, class texts, the method's objective, callbacks and exporter -> trainer.

The library assembles trainers; scripts only parse arguments and call this.
"""

from __future__ import annotations

import copy

from transformers.trainer_utils import enable_full_determinism, set_seed
from transformers.utils import logging

from ..adapters import get_adaptation
from ..adapters.base import report_trainable_parameters
from ..loading import load_video_clip_model
from ..methods import MethodConfig, ObjectiveContext, get_method
from ..models.video_clip.processing_video_clip import VideoClipProcessor
from ..text.class_texts import ClassTexts
from ..text.templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE
from .arguments import VideoClipTrainingArguments
from .export import ModelExporter
from .trainer import VideoClipTrainer, dataset_class_names

logger = logging.get_logger(__name__)


def build_trainer(args: VideoClipTrainingArguments, model_path: str, train_dataset, eval_dataset=None,
                  method_config: MethodConfig | None = None, callbacks: list | None = None) -> VideoClipTrainer:
    """A `VideoClipTrainer` for `args.method` on `train_dataset` (a `video` column and a `label` ClassLabel).

    `method_config` is the method's config (default: its defaults); `model_path` a CLIP or VideoClip checkpoint.
    """
    # Seed before anything random is drawn (LoRA and adapter weights, method heads): the Trainer seeds only once
    # the objective exists, so two runs with the same --seed would otherwise start from different heads.
    if args.full_determinism:
        enable_full_determinism(args.seed)
    else:
        set_seed(args.seed)
    spec = get_method(args.method)
    config = method_config if method_config is not None else spec.config_class()
    if not isinstance(config, spec.config_class):
        raise TypeError(f"--method {args.method} takes a {spec.config_class.__name__}, got "
                        f"{type(config).__name__}.")
    config.validate(args)
    objective_class = spec.objective_class
    class_names = dataset_class_names(train_dataset)
    if not class_names:
        raise ValueError("The training dataset needs a `label` column of type datasets.ClassLabel whose names are the "
                         "class names (the prompts are built from them).")

    student = load_video_clip_model(model_path, temporal_mode=args.temporal_mode or objective_class.default_temporal_mode,
                                    num_frames=args.num_frames, require_temporal_mode=args.temporal_mode is not None,
                                    vclip_edge=args.vclip_edge)
    _check_backbone(student, args, objective_class, model_path)
    _set_pooling(student, args, objective_class, model_path)
    processor = VideoClipProcessor.from_pretrained(model_path, num_frames=args.num_frames)
    zero_shot = None
    if objective_class.needs_zero_shot_model or args.patch_alpha is not None:
        zero_shot = copy.deepcopy(student).eval().requires_grad_(False)
    adaptation = get_adaptation(args.adaptation)
    student = adaptation.apply(student, args)
    trainable, total = adaptation.count_parameters(student)
    report_trainable_parameters(args.adaptation, trainable, total)

    templates = KINETICS_TEMPLATES if args.templates == "kinetics" else SINGLE_TEMPLATE
    descriptions = None
    if args.class_descriptions:  # also FROSTER's --description_file (an alias, set by its config's validate)
        from ..text.class_descriptions import match_class_descriptions

        descriptions = match_class_descriptions(class_names, args.class_descriptions)
    texts = ClassTexts(processor.tokenizer, class_names, templates, descriptions)
    objective = objective_class(student, config, ObjectiveContext(args, texts, zero_shot))
    method_callbacks = objective.callbacks()
    _check_weight_space(args, adaptation, objective_class, method_callbacks)
    exporter = ModelExporter(processor, adaptation, args.patch_alpha, zero_shot)
    trainer = VideoClipTrainer(model=objective, args=args, processor=processor, train_dataset=train_dataset,
                               eval_dataset=eval_dataset, callbacks=[*method_callbacks, *(callbacks or [])],
                               exporter=exporter)
    trainer.trainable_parameters = {"adaptation": args.adaptation, "trainable": trainable, "total": total}
    return trainer


def _check_backbone(student, args, objective_class, model_path) -> None:
    """A backbone with fewer features than `VideoClipModel` (X-CLIP: `VideoXClipModel.backbone_features`) trains only
    the methods and adaptations that work on it; anything else is refused here, in one line naming why."""
    features = getattr(student, "backbone_features", None)
    if features is None:  # a VideoClipModel: every feature, every adaptation
        return
    name = getattr(student, "backbone_name", type(student).__name__)
    missing = [(feature, why) for feature, why in objective_class.backbone_needs.items() if feature not in features]
    if missing:
        from ..methods import available_methods, get_method

        usable = [m for m in available_methods() if set(get_method(m).objective_class.backbone_needs) <= features]
        note = getattr(student, "backbone_note", "")
        raise ValueError(f"--method {args.method} cannot train an {name} model ({model_path}): {missing[0][1]}, and "
                         f"{name} has no {missing[0][0].replace('_', ' ')}{f' ({note})' if note else ''}. Methods "
                         f"that train it: {', '.join(usable)}.")
    adaptations = getattr(student, "adaptations", ())
    if args.adaptation not in adaptations:
        raise ValueError(f"--adaptation {args.adaptation} cannot adapt an {name} model ({model_path}): it inserts "
                         f"modules into VideoClipModel's own encoder layers, which {name} does not have; use "
                         f"{', '.join(adaptations)}.")
    if args.frame_pooling:
        raise ValueError(f"--frame_pooling {args.frame_pooling} does not apply to an {name} model ({model_path}): it "
                         f"pools frames with its own module (frame_pooling {student.config.frame_pooling!r}); drop "
                         "the flag.")


def _set_pooling(student, args, objective_class, model_path) -> None:
    """The student scores as the method's official code does (`--frame_pooling` / `--view_pooling` override), in
    training, evaluation and the exported config; a starting checkpoint saved with other settings is told. A backbone
    that pools frames its own way (X-CLIP's `mit`) keeps its `frame_pooling`."""
    config = student.config
    for field, default in (("frame_pooling", objective_class.default_frame_pooling),
                           ("view_pooling", objective_class.default_view_pooling)):
        if field == "frame_pooling" and getattr(student, "backbone_features", None) is not None:
            continue
        wanted = getattr(args, field) or default
        if getattr(config, field, None) != wanted:
            logger.info("%s: %s %r -> %r (%s).", model_path, field, getattr(config, field, None), wanted,
                        f"--{field}" if getattr(args, field) else f"--method {args.method}'s default")
        setattr(config, field, wanted)


def _check_weight_space(args, adaptation, objective_class, method_callbacks) -> None:
    """Weight interpolation with the zero-shot model (Open-VCLIP) acts on the pretrained weights, so an adaptation
    that trains other tensors is refused with it. Snapshot averaging (SWA, GWA, epoch averaging) acts on whatever
    trains: refused only where the average of the trainable tensors is not an average of the model's parameters
    (LoRA: averaging A and B is not averaging B A). Export-time patching is fine: it acts on the merged weights."""
    uses = [f"--method {args.method} (interpolated weights)"] if (
        objective_class.interpolates_weights and not adaptation.trains_model_weights) else []
    if not adaptation.averages_parameters:
        uses += [type(cb).__name__ for cb in method_callbacks if getattr(cb, "averages_weights", False)]
    if uses:
        what = ("interpolate the pretrained weights with the zero-shot model's, which this adaptation does not train"
                if adaptation.averages_parameters else "average or interpolate the trainable tensors, and for "
                f"{args.adaptation} those are not the model's weights")
        raise ValueError(f"--adaptation {args.adaptation} cannot be combined with {', '.join(uses)}: these {what}. "
                         "Use --adaptation full or frozen_text, or turn the averaging off (--swa false, --gwa false, "
                         "no --average_start_epoch).")


__all__ = ["build_trainer"]
