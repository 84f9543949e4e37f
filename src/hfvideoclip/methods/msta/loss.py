"""MSTA's description consistency loss (ETL4Video, Eq. 14).

For each class c, `w_c` is the adapted text branch's embedding of the template "a video of {class}." and `D_s^c`,
`D_t^c` are the means of the *frozen* branch's embeddings of the class's spatial and temporal descriptions:

    L_CC = mean_c [ 2 - cos(w_c, D_s^c) - cos(w_c, D_t^c) ]

The total MSTA loss is `CE + alpha * L_CC` with alpha = 1.0 (MSTA Table 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.video_clip.precision import autocast_off, full_precision


def consistency_loss(template_embeds: torch.Tensor, spatial_desc_embeds: torch.Tensor,
                     temporal_desc_embeds: torch.Tensor) -> torch.Tensor:
    """`mean_c [2 - cos(w_c, mean_n D_s^c,n) - cos(w_c, mean_n D_t^c,n)]`, a float32 scalar.

    Args:
        template_embeds: `(C, D)` template embeddings `w_c` (any norm; gradient flows here).
        spatial_desc_embeds: `(C, N_s, D)` spatial description embeddings (any norm; each is L2-normalised before
            the mean, as a template ensemble).
        temporal_desc_embeds: `(C, N_t, D)` temporal description embeddings.
    """
    if template_embeds.dim() != 2 or spatial_desc_embeds.dim() != 3 or temporal_desc_embeds.dim() != 3:
        raise ValueError(f"consistency_loss expects template (C, D), spatial (C, N_s, D) and temporal (C, N_t, D) "
                         f"embeddings; got {tuple(template_embeds.shape)}, {tuple(spatial_desc_embeds.shape)} and "
                         f"{tuple(temporal_desc_embeds.shape)}.")
    num_classes = template_embeds.shape[0]
    if spatial_desc_embeds.shape[0] != num_classes or temporal_desc_embeds.shape[0] != num_classes:
        raise ValueError(f"consistency_loss: {num_classes} template embeddings but {spatial_desc_embeds.shape[0]} "
                         f"spatial and {temporal_desc_embeds.shape[0]} temporal description sets; give one set per "
                         "class, in label order.")
    with autocast_off(template_embeds.device):
        w = full_precision(template_embeds)
        spatial = F.normalize(full_precision(spatial_desc_embeds), dim=-1).mean(dim=1)
        temporal = F.normalize(full_precision(temporal_desc_embeds), dim=-1).mean(dim=1)
        cos_s = F.cosine_similarity(w, spatial.to(w.dtype), dim=-1)
        cos_t = F.cosine_similarity(w, temporal.to(w.dtype), dim=-1)
        return (2.0 - cos_s - cos_t).mean()


__all__ = ["consistency_loss"]
