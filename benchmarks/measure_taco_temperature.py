"""How sharp are TACO's RSD targets `softmax(v Z^T Z W^T / tau)` compared with CLIP's own class distribution?

Measures, for `M = 200` random unit anchors (resampled per draw, `hfvideoclip.methods.taco.loss.sample_anchors`),
`B = 64` videos and `N` classes, with `tau = c * (M / D) / scale` for a grid of multipliers `c`:

- `corr`: Pearson correlation, per video over the classes, between the anchor score `v Z^T Z w^T` and
  `(M / D) cos(v, w)` (its expectation), averaged over videos and anchor draws;
- `H_rsd`: entropy (nats) of the RSD distribution `softmax(anchor score / tau)`, against `H_clip`, the entropy of
  CLIP's own class distribution `softmax(scale * cos)`;
- `KL(rsd||clip)` and `KL(clip||rsd)`: how faithfully the anchor-based distribution represents the model's own.

Summary columns (multipliers of the old rule `tau = (M / D) / scale`): `c_H`, at which `H_rsd = H_clip`; `c_KL`,
the minimiser of `KL(clip||rsd)`; `1+k/M`, the noise-model shrinkage with `kappa = E_n |w_n - w_bar|^2 / Var_n cos`
measured on the geometry (for fixed `v, w` the anchor score has mean `(M / D) cos` and variance about
`M (1 + cos^2) / D^2`; only what varies over the classes matters to the softmax, so the noise that adds to the
class-to-class signal `(M / D)^2 Var_n cos` is `M |w_n - w_bar|^2 / D^2`, and the best temperature for a noisy logit
divides it by signal / (signal + noise)); `c_new`, what `default_temperature` gives.

Geometries
----------
- `synthetic confident D` (D = 512, 768 with CLIP's scale 100). All directions random and seeded: a text cone
  axis `mu_t`, a video cone axis `mu_v` with `mu_v . mu_t = 0.31` (the modality gap), a `k = 32`-dimensional
  "semantic" subspace `S`. Class texts `w_n = normalize(0.85 mu_t + 0.53 e_n)` with
  `e_n = normalize(0.87 S u_n + 0.5 g_n)` (`u_n` random in `S`, `g_n` isotropic): text-text cosines ~0.72, as for
  CLIP prompt embeddings. Videos `v = normalize(0.75 mu_v + 0.226 e_y + 0.2 S h + 0.59 r)` (own class `y`, `h`
  random in `S`, `r` isotropic): cosine to the true class ~0.31, to the others ~0.19 with a within-video spread
  ~0.028 (5-95 %: 0.14-0.25), CLIP top-1 0.95.
- `synthetic K400-like D` (D = 512, 768 at scale 100, and the toy CLIP's D and scale): the same with
  `e_n = normalize(0.95 S u_n + 0.3 g_n)` and `v = normalize(0.75 mu_v + 0.2 e_y + 0.3 S h + 0.59 r)`: true class
  ~0.29, others ~0.19 +- 0.034 (5-95 %: 0.12-0.25), top-1 0.53-0.69 (CLIP ViT-B zero-shot on K400 is ~0.5). The
  D = 64 version is spreadier (isotropic parts give cosines ~1/sqrt(D)). Also run with M = 50 and 800.
- `toy CLIP` (real embeddings): the shipped tiny CLIP (`toy_clip_path()`, D = projection_dim, its own
  `exp(logit_scale)`); classes are the 65 toy motion-shape names ("a star moving left"), videos are 64 rendered
  toy clips (`render_clip`, 8 frames, random valid shape/colour/motion/background), frame embeddings mean-pooled.

The realised statistics are printed for each geometry with a full grid (K400-like and toy CLIP).

    python benchmarks/measure_taco_temperature.py [--draws 32] [--seed 0] [--no-toy]

Runs in ~50 s on 2 busy CPU cores.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from hfvideoclip.methods.taco.loss import default_temperature, relative_structure_scores, sample_anchors

MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def synthetic_geometry(dim: int, num_classes: int = 400, batch: int = 64, seed: int = 0, *, k: int = 32,
                       text_common: float = 0.85, text_noise: float = 0.5, video_common: float = 0.75,
                       video_class: float = 0.226, video_semantic: float = 0.2, video_noise: float = 0.59,
                       gap: float = 0.31):
    """CLIP-like video/text embeddings (see the module docstring); returns `(videos (B, D), texts (N, D), labels)`,
    L2-normalised, float64."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    basis, _ = torch.linalg.qr(randn(dim, k + 2))
    mu_t, mu_perp, semantic = basis[:, 0], basis[:, 1], basis[:, 2:]
    mu_v = gap * mu_t + math.sqrt(1 - gap ** 2) * mu_perp
    e = F.normalize(math.sqrt(1 - text_noise ** 2) * F.normalize(randn(num_classes, k), dim=-1) @ semantic.t()
                    + text_noise * F.normalize(randn(num_classes, dim), dim=-1), dim=-1)
    texts = F.normalize(text_common * mu_t + math.sqrt(1 - text_common ** 2) * e, dim=-1)
    labels = torch.randint(num_classes, (batch,), generator=g)
    videos = F.normalize(video_common * mu_v + video_class * e[labels]
                         + video_semantic * F.normalize(randn(batch, k), dim=-1) @ semantic.t()
                         + video_noise * F.normalize(randn(batch, dim), dim=-1), dim=-1)
    return videos, texts, labels


@torch.no_grad()
def toy_clip_geometry(batch: int = 64, seed: int = 0, num_frames: int = 8):
    """Real tiny-CLIP embeddings: motion-shape class names and mean-pooled frame embeddings of rendered clips.
    Returns `(videos, texts, labels, dim, scale)`."""
    import random

    from transformers import AutoTokenizer, CLIPModel

    from hfvideoclip.toy import (
        BACKGROUNDS,
        COLOURS,
        MOTIONS,
        SHAPES,
        ClipSpec,
        render_clip,
        toy_clip_path,
    )
    from hfvideoclip.toy.world import is_valid, motion_shape_name
    from hfvideoclip.training.toy_pretraining import preprocess_frames

    path = toy_clip_path()
    model = CLIPModel.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    classes = [(s, m) for s in SHAPES for m in MOTIONS if is_valid(s, m)]
    tokens = tokenizer([motion_shape_name(s, m) for s, m in classes], padding=True, return_tensors="pt")
    texts = model.get_text_features(**tokens)
    texts = getattr(texts, "pooler_output", texts)
    rng = random.Random(seed)
    labels, frames = [], []
    for i in range(batch):
        label = rng.randrange(len(classes))
        shape, motion = classes[label]
        spec = ClipSpec(shape, rng.choice(list(COLOURS)), motion, rng.choice(BACKGROUNDS))
        labels.append(label)
        frames.append(preprocess_frames(render_clip(spec, seed * 100_003 + i, num_frames=num_frames)))
    feats = model.get_image_features(pixel_values=torch.cat(frames))
    feats = getattr(feats, "pooler_output", feats)
    videos = F.normalize(feats.view(batch, num_frames, -1).mean(1), dim=-1)
    scale = float(model.logit_scale.exp())
    return (videos.double(), F.normalize(texts, dim=-1).double(), torch.tensor(labels), model.config.projection_dim,
            scale)


def geometry_summary(videos, texts, labels) -> str:
    cos = videos @ texts.t()
    rows = torch.arange(len(labels))
    true = cos[rows, labels]
    other_mask = torch.ones_like(cos, dtype=torch.bool)
    other_mask[rows, labels] = False
    others = cos[other_mask].view(len(labels), -1)
    tt = texts @ texts.t()
    tt = tt[~torch.eye(len(texts), dtype=torch.bool)]
    top1 = (cos.argmax(1) == labels).double().mean()
    return (f"cos true {true.mean():.3f}+-{true.std():.3f}, others {others.mean():.3f} (sd within video "
            f"{others.std(1).mean():.3f}, 5-95% {others.quantile(0.05):.3f}-{others.quantile(0.95):.3f}), "
            f"text-text {tt.mean():.2f}, CLIP top-1 {top1:.2f}")


def entropy(log_p: torch.Tensor) -> torch.Tensor:
    return -(log_p.exp() * log_p).sum(-1)


def kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def predicted_multiplier(videos, texts, num_anchors: int) -> float:
    """Noise-model shrinkage `1 + kappa / M`, `kappa = E_n |w_n - w_bar|^2 / Var_n cos` (measured on the geometry):
    signal `(M/D)^2 Var_n cos`, class-varying noise `M E|w_n - w_bar|^2 / D^2`."""
    spread = (texts - texts.mean(0)).pow(2).sum(-1).mean()
    signal = (videos @ texts.t()).var(dim=1).mean()
    return 1 + float(spread / signal) / num_anchors


def anchor_scores(videos, texts, num_anchors: int, draws: int, seed: int) -> torch.Tensor:
    """`(draws, B, N)` raw anchor scores `v Z^T Z w^T` (temperature 1, float32 as in training), one fresh anchor
    set per draw."""
    g = torch.Generator().manual_seed(seed)
    dim = videos.shape[-1]
    videos, texts = videos.float(), texts.float()
    return torch.stack([relative_structure_scores(videos, texts, sample_anchors(num_anchors, dim, generator=g), 1.0)
                        for _ in range(draws)])


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def rsd_stats(scores, clip_log_p, num_anchors: int, dim: int, scale: float, c: float):
    tau = c * (num_anchors / dim) / scale
    log_q = F.log_softmax(scores / tau, dim=-1)
    return (tau, entropy(log_q).mean().item(), kl(log_q, clip_log_p).mean().item(),
            kl(clip_log_p, log_q).mean().item())


def entropy_matching_multiplier(scores, clip_entropy: float, num_anchors: int, dim: int, scale: float) -> float:
    """Bisection on log c for mean H_rsd = H_clip (H_rsd grows with c)."""
    lo, hi = math.log(1 / 64), math.log(1024.0)
    for _ in range(24):
        mid = (lo + hi) / 2
        h = entropy(F.log_softmax(scores / (math.exp(mid) * (num_anchors / dim) / scale), dim=-1)).mean().item()
        lo, hi = (mid, hi) if h < clip_entropy else (lo, mid)
    return math.exp((lo + hi) / 2)


def kl_minimising_multiplier(scores, clip_log_p, num_anchors: int, dim: int, scale: float) -> float:
    """Golden-section search on log c for the minimum of mean KL(clip || rsd)."""
    def loss(log_c):
        tau = math.exp(log_c) * (num_anchors / dim) / scale
        return kl(clip_log_p, F.log_softmax(scores / tau, dim=-1)).mean().item()

    ratio = (math.sqrt(5) - 1) / 2
    lo, hi = math.log(0.1), math.log(100.0)
    for _ in range(22):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (lo, b) if loss(a) < loss(b) else (a, hi)
    return math.exp((lo + hi) / 2)


def measure(name: str, videos, texts, labels, scale: float, num_anchors: int, draws: int, seed: int,
            verbose: bool = True) -> dict:
    dim = videos.shape[-1]
    cos = videos @ texts.t()
    clip_log_p = F.log_softmax(scale * cos, dim=-1).float()
    clip_entropy = entropy(clip_log_p).mean().item()
    scores = anchor_scores(videos, texts, num_anchors, draws, seed)
    corr = pearson_rows(scores, (num_anchors / dim) * cos.expand_as(scores))
    new_c = default_temperature(num_anchors, dim, scale) / ((num_anchors / dim) / scale)
    c_kl = kl_minimising_multiplier(scores, clip_log_p, num_anchors, dim, scale)
    result = {
        "name": name, "dim": dim, "scale": scale, "corr": corr.mean().item(), "h_clip": clip_entropy,
        "c_entropy": entropy_matching_multiplier(scores, clip_entropy, num_anchors, dim, scale),
        "c_kl": c_kl, "c_pred": predicted_multiplier(videos, texts, num_anchors), "c_new": new_c,
        "old": rsd_stats(scores, clip_log_p, num_anchors, dim, scale, 1.0),
        "new": rsd_stats(scores, clip_log_p, num_anchors, dim, scale, new_c),
        "best": rsd_stats(scores, clip_log_p, num_anchors, dim, scale, c_kl),
    }
    if verbose:
        print(f"\n== {name}: D={dim}, scale={scale:.1f}, N={texts.shape[0]}, B={videos.shape[0]}, M={num_anchors}, "
              f"{draws} anchor draws ==")
        print("   " + geometry_summary(videos, texts, labels))
        print(f"   corr(anchor score, (M/D) cos) = {corr.mean():.3f} (sd {corr.std():.3f});  "
              f"H_clip = {clip_entropy:.2f} nats (uniform {math.log(texts.shape[0]):.2f})")
        print(f"   {'c':>6} {'tau':>9} {'H_rsd':>6} {'KL(rsd||clip)':>14} {'KL(clip||rsd)':>14}")
        rows = [(c, *rsd_stats(scores, clip_log_p, num_anchors, dim, scale, c)) for c in MULTIPLIERS]
        rows += [("new", *result["new"]), ("best", *result["best"])]
        for c, tau, h, kl_rc, kl_cr in rows:
            print(f"   {c:>6} {tau:>9.5f} {h:>6.2f} {kl_rc:>14.2f} {kl_cr:>14.2f}")
    return result


CONFIDENT = {}
K400_LIKE = {"video_class": 0.2, "video_semantic": 0.3, "text_noise": 0.3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=32, help="anchor draws per geometry")
    parser.add_argument("--anchors", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-toy", action="store_true", help="skip the toy CLIP (real embeddings)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    start = time.perf_counter()
    m, seed = args.anchors, args.seed
    toy = None if args.no_toy else toy_clip_geometry(seed=seed)
    toy_dim, toy_scale = (toy[3], toy[4]) if toy else (64, 18.86)
    results = []
    for label, kwargs in (("K400-like", K400_LIKE), ("confident", CONFIDENT)):
        for dim, scale in ((512, 100.0), (768, 100.0), (toy_dim, toy_scale)):
            if label == "confident" and dim == toy_dim:
                continue
            videos, texts, labels = synthetic_geometry(dim, seed=seed, **kwargs)
            results.append(measure(f"synthetic {label} D={dim}", videos, texts, labels, scale, m, args.draws,
                                   seed + 1, verbose=label == "K400-like"))
    if toy:
        videos, texts, labels, _, scale = toy
        results.append(measure("toy CLIP (real embeddings)", videos, texts, labels, scale, m, args.draws, seed + 1))
    videos, texts, labels = synthetic_geometry(512, seed=seed, **K400_LIKE)
    for anchors in (50, 800):
        results.append(measure(f"synthetic K400-like D=512 M={anchors}", videos, texts, labels, 100.0, anchors,
                               max(8, args.draws // 2), seed + 2, verbose=False))

    print("\n== summary: multipliers c of the old rule tau = (M/D)/scale (M=200 unless named) ==")
    print("   c_H: H_rsd = H_clip;  c_KL: argmin KL(clip||rsd);  1+k/M: noise-model shrinkage (kappa measured);  "
          "c_new: default_temperature")
    print(f"   {'geometry':<36} {'corr':>5} {'H_clip':>6} {'H old':>5} {'H new':>5} {'c_H':>5} {'c_KL':>5} "
          f"{'1+k/M':>5} {'c_new':>5} | {'KL(clip||rsd) old':>17} {'new':>5} {'best':>5}")
    for r in results:
        print(f"   {r['name']:<36} {r['corr']:>5.2f} {r['h_clip']:>6.2f} {r['old'][1]:>5.2f} {r['new'][1]:>5.2f} "
              f"{r['c_entropy']:>5.2f} {r['c_kl']:>5.2f} {r['c_pred']:>5.2f} {r['c_new']:>5.2f} | "
              f"{r['old'][3]:>17.2f} {r['new'][3]:>5.2f} {r['best'][3]:>5.2f}")
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
