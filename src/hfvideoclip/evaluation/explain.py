"""`hfvideoclip explain`: where in the frames the predicted label is.

Every patch token of the vision tower's last block goes through the same head as the class token (`post_layernorm`,
`visual_projection`); its cosine with the label's class embedding gives one similarity map per frame, `(T, H, W)`
on the patch grid. The PNG shows the sampled frames with the map over them (red: most similar patches of the clip),
the ranked labels above.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from ..models.video_clip.modeling_video_clip import VideoClipLayout


@dataclass
class Explanation:
    """The ranked labels, the frames shown (T, H, W, 3) uint8 and the similarity maps (T, grid_h, grid_w) of the
    top label (cosine, float)."""

    ranked: list[dict]
    frames: torch.Tensor
    maps: torch.Tensor


@torch.no_grad()
def patch_label_similarity(model, pixel_values_videos: torch.Tensor, class_embedding: torch.Tensor) -> torch.Tensor:
    """Cosine of every projected patch token with `class_embedding` (D,): `(B, T, grid_h, grid_w)`.

    Args:
        pixel_values_videos: `(B, T, 3, S, S)` processed frames.
    """
    tower = model.vision_model
    captured = {}
    handle = tower.encoder.layers[-1].register_forward_hook(lambda module, args, output: captured.update(
        hidden=output[0] if isinstance(output, tuple) else output))
    try:
        model.get_video_features(pixel_values_videos=pixel_values_videos)
    finally:
        handle.remove()
    batch, num_frames, _, height, width = pixel_values_videos.shape
    patch = tower.embeddings.patch_size
    layout = VideoClipLayout.for_clip(batch, num_frames, height // patch, width // patch, model.config.temporal_mode,
                                      model.config.vclip_edge)
    grid = layout.patch_grid(captured["hidden"])  # (B, T, H, W, width)
    projected = model.visual_projection(tower.post_layernorm(grid))
    return F.cosine_similarity(projected.float(), class_embedding.float().view(1, 1, 1, 1, -1), dim=-1)


def explain_video(model, processor, video, labels: list[str], templates=None) -> Explanation:
    """Rank `labels` for `video` (any input the processor decodes) and map where the top one is."""
    from ..text.class_embeddings import class_text_embeddings

    pixels = processor.video_processor([video])["pixel_values_videos"].to(device=model.device, dtype=model.dtype)
    embeds = class_text_embeddings(model, processor.tokenizer, labels, templates or ["a video of {}."],
                                   device=model.device)
    with torch.no_grad():
        video_embeds = model.get_video_features(pixel_values_videos=pixels)
        logits = model.compute_logits(video_embeds, embeds).float()[0]
    order = logits.argsort(descending=True).tolist()
    scores = logits.softmax(dim=-1)
    ranked = [{"label": labels[i], "score": float(scores[i])} for i in order]
    maps = patch_label_similarity(model, pixels, embeds[order[0]])[0].cpu()
    mean = torch.tensor(processor.video_processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.video_processor.image_std).view(1, 3, 1, 1)
    frames = ((pixels[0].float().cpu() * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return Explanation(ranked=ranked, frames=frames, maps=maps)


def explanation_image(explanation: Explanation, frame_size: int = 160) -> Image.Image:
    """Frames side by side with the map over each (scaled over the whole clip: red = most similar), labels above."""
    maps = explanation.maps
    low, high = float(maps.min()), float(maps.max())
    scaled = (maps - low) / max(high - low, 1e-6)  # (T, h, w) in [0, 1]
    num_frames = explanation.frames.shape[0]
    header = 18 * min(len(explanation.ranked), 3) + 8
    canvas = Image.new("RGB", (num_frames * frame_size, frame_size + header), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for row, item in enumerate(explanation.ranked[:3]):
        draw.text((6, 4 + 18 * row), f"{row + 1}. {item['label']}  {item['score']:.3f}", fill="black", font=font)
    for t in range(num_frames):
        frame = Image.fromarray(explanation.frames[t].numpy()).resize((frame_size, frame_size))
        heat = F.interpolate(scaled[t][None, None], size=(frame_size, frame_size), mode="bilinear",
                             align_corners=False)[0, 0].clamp(0, 1)
        overlay = torch.stack([heat, torch.zeros_like(heat), 1 - heat], dim=-1)  # red high, blue low
        overlay = Image.fromarray((overlay * 255).round().to(torch.uint8).numpy())
        canvas.paste(Image.blend(frame, overlay, 0.45), (t * frame_size, header))
    return canvas


def main(argv=None) -> int:
    import argparse
    import sys

    from ..loading import load_video_clip_model
    from ..models.video_clip.processing_video_clip import VideoClipProcessor

    parser = argparse.ArgumentParser(prog="hfvideoclip explain", description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--model", required=True, help="model directory or Hub id")
    parser.add_argument("--labels", required=True, help='comma-separated labels, e.g. "archery,juggling"')
    parser.add_argument("--template", action="append", help="prompt template with {} (default 'a video of {}.')")
    parser.add_argument("--output", default="explain.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    model = load_video_clip_model(args.model).eval()
    processor = VideoClipProcessor.from_pretrained(args.model)
    explanation = explain_video(model, processor, args.video, labels, args.template)
    explanation_image(explanation).save(args.output)
    top = explanation.ranked[0]
    print(f"{args.video}: {top['label']} ({top['score']:.3f}); similarity map of the {explanation.frames.shape[0]} "
          f"frames written to {args.output}", file=sys.stdout)
    return 0


__all__ = ["Explanation", "explain_video", "explanation_image", "main", "patch_label_similarity"]
