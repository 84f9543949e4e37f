#!/usr/bin/env python
"""Pretrain the toy world's tiny CLIP: a transformers `CLIPModel` trained contrastively on single frames.

    python recipes/pretrain_toy_clip.py --output_dir src/hfvideoclip/toy/tiny_clip

The model learns colours and shapes from captions such as "a red circle", "a photo of a red circle." or
"a video of a person doing a circle." (the 28 Kinetics templates, or bare), and motions the way CLIP learns
"running" from photographs of runners: it only ever sees single frames, but moving shapes leave a motion trail
(`render_clip(trail_strength=...)`, 0.6-1.0 here, 0.5 in the protocols' videos) and captions name the motion
("a circle moving left", "a shape rotating"). Trails are symmetric in time, so a frame shows that a shape moves
and along which axis, never which way: the model stays blind to direction pairs (left / right, growing /
shrinking), which only a video model can learn. A blinking shape's trace is the same long exposure: it is drawn
half-transparent, in the frames it is off as well as on. Frames are preprocessed as a video model sees them (rendered clip -> H.264 mp4 -> decode -> shorter
side to 32 px, bilinear antialiased -> centre crop -> CLIP normalisation), with light random-resized-crop and flip
augmentation; two frames per clip from many clips keep the frames diverse.

Each step contrasts a batch of images with one caption per *subject*: every pretraining colour-shape pair,
every shape alone ("a circle"), every colour alone ("a red shape"), every shape-motion combination except
`HELD_OUT_MOTION_SHAPES` and every motion alone, each in a random template. An image's positives are all the
captions that describe it; a quarter of the images are shown in greyscale and then match only their shape and
motion. The colour-shape pairs in `HELD_OUT_PAIRS` are never shown; every shape is also shown in the
pretraining-only colours (`PRETRAINING_COLOURS`), which with the greyscale images keeps the tiny ViT's shape
features from being tied to colour. The position table starts from 2-D sine-cosine values, a spatial prior that
speeds up learning shapes. A text-only term (`PhraseBank`, weight 0.5) keeps motion phrases apart in the text
tower. At the end the recipe prints zero-shot top-1 on still frames of seen and held-out pairs, within the full
42-pair colour-shape vocabulary, and on motion-shape classes of protocol-like videos
(`zero_shot_motion_accuracy`).

Writes ``model.safetensors`` + ``config.json`` (CLIPModel), the tokenizer files, ``preprocessor_config.json``
(CLIPImageProcessor format) and ``pretraining_info.json`` (settings, time, accuracies) to ``--output_dir``.
Seeded and deterministic for a given thread count; about 5 minutes on 2 CPU cores (300 s for the shipped model).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel

from hfvideoclip.data.augment import to_grayscale
from hfvideoclip.text.templates import KINETICS_TEMPLATES
from hfvideoclip.toy.render import render_clip
from hfvideoclip.toy.tokenizer import save_tokenizer
from hfvideoclip.toy.world import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT_MOTION_SHAPES,
    HELD_OUT_PAIRS,
    MOTIONS,
    PALETTE,
    PRETRAINING_COLOURS,
    SHAPES,
    ClipSpec,
    all_pairs,
    colour_motion_shape_name,
    colour_shape_name,
    is_valid,
    motion_name,
    motion_shape_name,
    seen_pairs,
)
from hfvideoclip.training.toy_pretraining import (
    CAPTION_TEMPLATES,
    IMAGE_SIZE,
    normalize,
    resize_frames,
    still_frames,
    through_mp4,
    write_preprocessor_config,
    zero_shot_motion_accuracy,
    zero_shot_still_accuracy,
)

PRETRAIN_MOTIONS = list(MOTIONS)
PRETRAIN_COLOURS = list(PALETTE)  # the protocol colours plus PRETRAINING_COLOURS


def pretraining_pairs() -> list[tuple[str, str]]:
    """Colour-shape pairs shown in pretraining: the seen pairs plus every shape in the pretraining-only colours."""
    return seen_pairs() + [(c, s) for c in PRETRAINING_COLOURS for s in SHAPES]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", required=True, help="where to write the HF model directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_clips", type=int, default=12000, help="rendered clips to take training frames from")
    parser.add_argument("--frames_per_clip", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch_size", type=int, default=128, help="images per step (captions: one per subject)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--grey_fraction", type=float, default=0.25,
                        help="images shown in greyscale, described by their shape only")
    parser.add_argument("--text_contrast_weight", type=float, default=0.5,
                        help="weight of the text-only term that keeps motion phrases apart (0 turns it off)")
    parser.add_argument("--text_contrast_phrases", type=int, default=48, help="phrases per step for that term")
    parser.add_argument("--weight_decay", type=float, default=0.05)
    parser.add_argument("--warmup_fraction", type=float, default=0.06)
    parser.add_argument("--eval_videos_per_pair", type=int, default=12)
    parser.add_argument("--trail_strength", type=float, nargs=2, default=(0.6, 1.0), metavar=("MIN", "MAX"),
                        help="motion-trail strength of the training frames, drawn uniformly per clip (0 0: no "
                             "trails, the v2 model that knows no motion)")
    parser.add_argument("--motion_captions", type=float, default=1.0,
                        help="1: caption the motion of each frame's shape ('a circle moving left', 'a shape "
                             "rotating'); 0: colours and shapes only")
    parser.add_argument("--threads", type=int, default=2, help="torch threads and data-generation processes")
    return parser.parse_args(argv)


def tiny_clip_config(vocab_size: int, bos_token_id: int, eos_token_id: int) -> CLIPConfig:
    return CLIPConfig(
        text_config={"vocab_size": vocab_size, "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 3,
                     "num_attention_heads": 4, "max_position_embeddings": 32, "bos_token_id": bos_token_id,
                     "eos_token_id": eos_token_id, "pad_token_id": eos_token_id, "projection_dim": 64},
        vision_config={"image_size": IMAGE_SIZE, "patch_size": 8, "hidden_size": 64, "intermediate_size": 256,
                       "num_hidden_layers": 4, "num_attention_heads": 4, "projection_dim": 64},
        projection_dim=64,
    )


# -------------------------------------------------------------------------------------------------- data


def _chunk_frames(jobs: list[tuple[dict, int, list[int], float]]) -> np.ndarray:
    """Render the chosen frames of a chunk of clips, pass them through H.264 together, resize to 32 px."""
    frames = torch.cat([render_clip(spec, seed, frame_indices=indices, trail_strength=strength)
                        for spec, seed, indices, strength in jobs])
    frames = through_mp4(frames)
    return (resize_frames(frames) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def make_frames(num_clips: int, frames_per_clip: int, seed: int, workers: int, chunk: int = 250,
                trail_strength: tuple[float, float] = (0.0, 0.0)):
    """Frames from ``num_clips`` clips over the pretraining pairs: uint8 (N, 32, 32, 3), colour, shape and motion
    indices.

    Few frames per clip (at random times) keep the frames diverse; they are encoded to H.264 in chunks (one
    mp4 per chunk of clips, so each frame is compressed as in a real video without one encoder per clip). Each
    clip draws its motion-trail strength uniformly from ``trail_strength``.
    """
    rng = random.Random(seed)
    pairs = pretraining_pairs()
    jobs, colours, shapes, motions = [], [], [], []
    for i in range(num_clips):
        colour, shape = pairs[i % len(pairs)]
        motion = rng.choice([m for m in PRETRAIN_MOTIONS if is_valid(shape, m)])
        spec = ClipSpec(shape, colour, motion, rng.choice(BACKGROUNDS))
        indices = sorted(rng.sample(range(16), frames_per_clip))
        strength = rng.uniform(*trail_strength) if trail_strength[1] > 0 else 0.0
        jobs.append((spec.to_dict(), rng.getrandbits(62), indices, strength))
        colours += [PRETRAIN_COLOURS.index(colour)] * frames_per_clip
        shapes += [SHAPES.index(shape)] * frames_per_clip
        motions += [PRETRAIN_MOTIONS.index(motion)] * frames_per_clip
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            arrays = pool.map(_chunk_frames, chunks)
    else:
        arrays = [_chunk_frames(c) for c in chunks]
    return (torch.from_numpy(np.concatenate(arrays)), torch.tensor(colours), torch.tensor(shapes),
            torch.tensor(motions))


class CaptionBank:
    """Every caption, tokenised once. A caption's subject is a colour-shape pair, a shape alone ("a circle"), a
    colour alone ("a red shape") and, with ``motion_captions``, a shape-motion combination ("a circle moving
    left", except `HELD_OUT_MOTION_SHAPES`) or a motion alone ("a shape rotating"); it is written bare (25 %) or
    in one of the 28 Kinetics templates. -1 in a subject's colour, shape or motion means "any"."""

    def __init__(self, tokenizer, motion_captions: bool = False):
        colours = PRETRAIN_COLOURS
        self.subjects = ([(colours.index(c), SHAPES.index(s), -1, colour_shape_name(c, s))
                          for c, s in pretraining_pairs()]
                         + [(-1, SHAPES.index(s), -1, f"a {s}") for s in SHAPES]
                         + [(colours.index(c), -1, -1, f"a {c} shape") for c in colours])
        if motion_captions:
            held = set(HELD_OUT_MOTION_SHAPES)
            self.subjects += [(-1, SHAPES.index(s), PRETRAIN_MOTIONS.index(m), motion_shape_name(s, m))
                              for s in SHAPES for m in PRETRAIN_MOTIONS if is_valid(s, m) and (s, m) not in held]
            self.subjects += [(-1, -1, PRETRAIN_MOTIONS.index(m), motion_name(m)) for m in PRETRAIN_MOTIONS]
        self.templates = list(CAPTION_TEMPLATES) + list(KINETICS_TEMPLATES)
        prompts = [t.format(name) for *_, name in self.subjects for t in self.templates]
        tokens = tokenizer(prompts, padding=True, return_tensors="pt")
        self.input_ids, self.attention_mask = tokens["input_ids"], tokens["attention_mask"]
        self.colour = torch.tensor([c for c, _, _, _ in self.subjects])
        self.shape = torch.tensor([s for _, s, _, _ in self.subjects])
        self.motion = torch.tensor([m for _, _, m, _ in self.subjects])

    def sample(self, generator: torch.Generator):
        """One caption per subject, each in a random template: token ids and attention mask (subjects, L)."""
        n = len(self.subjects)
        bare = torch.rand(n, generator=generator) < 0.25
        template = torch.where(bare, torch.randint(0, len(CAPTION_TEMPLATES), (n,), generator=generator),
                               torch.randint(len(CAPTION_TEMPLATES), len(self.templates), (n,), generator=generator))
        row = torch.arange(n) * len(self.templates) + template
        ids, mask = self.input_ids[row], self.attention_mask[row]
        width = int(mask.sum(1).max())
        return ids[:, :width], mask[:, :width]

    def positives(self, colour_idx: torch.Tensor, shape_idx: torch.Tensor, grey: torch.Tensor,
                  motion_idx: torch.Tensor | None = None) -> torch.Tensor:
        """(images, subjects) bool: the caption describes the image (greyscale images have no colour)."""
        colour_ok = (self.colour[None, :] == -1) | ((self.colour[None, :] == colour_idx[:, None]) & ~grey[:, None])
        shape_ok = (self.shape[None, :] == -1) | (self.shape[None, :] == shape_idx[:, None])
        motion_ok = self.motion[None, :] == -1
        if motion_idx is not None:
            motion_ok = motion_ok | (self.motion[None, :] == motion_idx[:, None])
        return colour_ok & shape_ok & motion_ok


class PhraseBank:
    """Motion phrases ("a circle moving left", "a red star blinking") in random templates, for the text-only term.

    The frames never show motion, so image-text contrast alone leaves motion words untrained and "a circle moving
    left" embeds next to "a circle blinking" (cosine ~0.98). CLIP's text tower tells action words apart from
    web captions; here a SimCSE-style term does it: two template renderings of a phrase are positives, other
    phrases negatives. It gives motion words distinct embeddings without claiming they are visible.
    """

    def __init__(self, tokenizer):
        phrases = [motion_shape_name(s, m) for s in SHAPES for m in MOTIONS if is_valid(s, m)]
        phrases += [colour_motion_shape_name(c, s, m) for c in COLOURS for s in SHAPES for m in MOTIONS
                    if is_valid(s, m)]
        self.phrases = phrases
        self.templates = list(CAPTION_TEMPLATES) + list(KINETICS_TEMPLATES)
        self.tokenizer = tokenizer

    def sample(self, count: int, generator: torch.Generator):
        """Two renderings of `count` random phrases: token ids and attention mask (2 * count, L), views stacked."""
        chosen = torch.randperm(len(self.phrases), generator=generator)[:count].tolist()
        templates = torch.randint(0, len(self.templates), (2, len(chosen)), generator=generator).tolist()
        texts = [self.templates[t].format(self.phrases[i]) for view in templates for t, i in zip(view, chosen)]
        tokens = self.tokenizer(texts, padding=True, return_tensors="pt")
        return tokens["input_ids"], tokens["attention_mask"]


def text_contrast_loss(text: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """InfoNCE between the two halves of L2-normalised (2K, D) text embeddings: row i of each half matches row i
    of the other."""
    half = text.shape[0] // 2
    logits = text[:half] @ text[half:].T / temperature
    targets = torch.arange(half)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def augment(images: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Random resized crop (area 0.65-1, ratio 3/4-4/3) on a fraction ``p`` of the batch, and horizontal flips."""
    n = images.shape[0]
    area = torch.empty(n).uniform_(0.65, 1.0, generator=generator)
    log_ratio = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
    w = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
    h = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
    keep = torch.rand(n, generator=generator) >= p
    w, h = torch.where(keep, torch.ones(n), w), torch.where(keep, torch.ones(n), h)
    cx = (torch.rand(n, generator=generator) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=generator) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def multi_positive_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss over (images, captions) logits with several positives per row.

    Image -> caption: cross-entropy against the uniform distribution over the image's positive captions.
    Caption -> image: the same over the batch's images, for the captions that describe at least one image.
    """
    positives = positives.float()
    loss_img = -(positives / positives.sum(1, keepdim=True) * F.log_softmax(logits, dim=1)).sum(1).mean()
    present = positives.sum(0) > 0
    pos_t, logits_t = positives.T[present], logits.T[present]
    loss_txt = -(pos_t / pos_t.sum(1, keepdim=True) * F.log_softmax(logits_t, dim=1)).sum(1).mean()
    return (loss_img + loss_txt) / 2


def sincos_position_embeddings(grid: int, dim: int, scale: float = 0.3) -> torch.Tensor:
    """2-D sine-cosine positions for a (1 + grid * grid, dim) position table (row 0 = class token: zeros)."""
    y, x = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32),
                          indexing="ij")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter) / quarter)
    x, y = x.flatten()[:, None] * omega, y.flatten()[:, None] * omega
    table = torch.cat([torch.sin(x), torch.cos(x), torch.sin(y), torch.cos(y)], dim=1)
    return scale * torch.cat([torch.zeros(1, dim), table], dim=0)


# ------------------------------------------------------------------------------------------------- train


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    os.makedirs(args.output_dir, exist_ok=True)
    tokenizer = save_tokenizer(args.output_dir)
    write_preprocessor_config(args.output_dir)

    frames, colour_idx, shape_idx, motion_idx = make_frames(args.num_clips, args.frames_per_clip, args.seed,
                                                             args.threads, trail_strength=tuple(args.trail_strength))
    data_seconds = time.perf_counter() - start
    print(f"{len(frames)} training frames from {args.num_clips} clips in {data_seconds:.1f} s", flush=True)

    config = tiny_clip_config(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    model = CLIPModel(config)
    with torch.no_grad():  # spatial prior for the position table: the tiny ViT learns shapes faster from it
        grid = IMAGE_SIZE // config.vision_config.patch_size
        model.vision_model.embeddings.position_embedding.weight.copy_(
            sincos_position_embeddings(grid, config.vision_config.hidden_size))
    num_params = sum(p.numel() for p in model.parameters())
    print(f"CLIPModel with {num_params:,} parameters", flush=True)
    bank = CaptionBank(tokenizer, motion_captions=args.motion_captions > 0)
    phrase_bank = PhraseBank(tokenizer)
    text_generator = torch.Generator().manual_seed(args.seed + 1)  # own stream: the image batches stay the same
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    warmup = max(1, int(args.warmup_fraction * args.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    generator = torch.Generator().manual_seed(args.seed)

    model.train()
    train_start = time.perf_counter()
    for step in range(args.steps):
        index = torch.randint(0, len(frames), (args.batch_size,), generator=generator)
        images = frames[index].permute(0, 3, 1, 2).float().div_(255.0)
        grey = torch.rand(args.batch_size, generator=generator) < args.grey_fraction
        images = augment(images, generator)
        images = normalize(torch.where(grey.view(-1, 1, 1, 1), to_grayscale(images), images))
        input_ids, attention_mask = bank.sample(generator)
        image = F.normalize(model.get_image_features(pixel_values=images).pooler_output, dim=-1)
        text = F.normalize(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output,
                           dim=-1)
        logits = model.logit_scale.exp().clamp(max=100.0) * image @ text.T
        loss = multi_positive_loss(logits, bank.positives(colour_idx[index], shape_idx[index], grey,
                                                          motion_idx[index]))
        if args.text_contrast_weight > 0:
            ids, mask = phrase_bank.sample(args.text_contrast_phrases, text_generator)
            phrases = F.normalize(model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output, dim=-1)
            loss = loss + args.text_contrast_weight * text_contrast_loss(phrases)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  scale {model.logit_scale.exp().item():.1f}  "
                  f"{time.perf_counter() - train_start:.0f} s", flush=True)
    train_seconds = time.perf_counter() - train_start

    model.eval()
    eval_frames = still_frames(all_pairs(), args.eval_videos_per_pair)
    results = {label: zero_shot_still_accuracy(model, tokenizer, templates=templates, frames=eval_frames)
               for label, templates in (("bare", ("{}",)), ("kinetics28", KINETICS_TEMPLATES))}
    motion = zero_shot_motion_accuracy(model, tokenizer)
    total_seconds = time.perf_counter() - start
    model.save_pretrained(args.output_dir)
    info = {"args": vars(args), "num_parameters": num_params, "num_frames": len(frames),
            "held_out_pairs": [list(p) for p in HELD_OUT_PAIRS], "vocabulary_pairs": len(all_pairs()),
            "seconds": {"data": round(data_seconds, 1), "train": round(train_seconds, 1),
                        "total": round(total_seconds, 1)},
            "held_out_motion_shapes": [list(p) for p in HELD_OUT_MOTION_SHAPES],
            "zero_shot_still_top1": results, "zero_shot_motion_top1": motion, "torch": torch.__version__}
    with open(os.path.join(args.output_dir, "pretraining_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    chance = 1 / len(all_pairs())
    for label, acc in results.items():
        print(f"zero-shot still-frame top-1 ({label} prompts, {len(all_pairs())}-way, chance {chance:.1%}): "
              f"seen pairs {acc['seen']:.1%}  held-out pairs {acc['held_out']:.1%}")
    print("zero-shot motion-shape top-1 on single frames of protocol videos ("
          + ", ".join(f"{k} {v:.1%}" for k, v in motion.items()) + ")")
    print(f"total {total_seconds:.0f} s (data {data_seconds:.0f} s, training {train_seconds:.0f} s); "
          f"saved to {args.output_dir}")
    return info


if __name__ == "__main__":
    main()
