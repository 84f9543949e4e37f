import math

import numpy as np
import pytest
import torch

from hfvideoclip.methods.ost.loss import (
    SINKHORN_EPSILON,
    SINKHORN_MAX_ITER,
    SINKHORN_TOL,
    TARGET_SHARPNESS,
    optimal_descriptor_logits,
    optimal_descriptor_scores,
    ost_contrastive_loss,
    sinkhorn,
)
from hfvideoclip.models.video_clip import optimal_transport
from hfvideoclip.models.video_clip.optimal_transport import _sinkhorn_log_scalings


# ------------------------------------------------------------------------------------------------ references
def _np_normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _ref_sinkhorn(costs, eps=0.1, max_iter=100, tol=1e-2):
    """Plain (linear-domain) Sinkhorn-Knopp of the official OST code on a list of (T, N) float64 costs.

    From r = 1, c = 1: r = (1/T) / (K c), c = (1/N) / (K^T r); stop when the mean of |r - r_prev| over *all*
    entries of all problems is below tol; P = diag(r) K diag(c).
    """
    kernels = [np.exp(-np.asarray(c, dtype=np.float64) / eps) for c in costs]
    rs = [np.ones(k.shape[0]) for k in kernels]
    cs = [np.ones(k.shape[1]) for k in kernels]
    for _ in range(max_iter):
        total, count = 0.0, 0
        for p, k in enumerate(kernels):
            t, n = k.shape
            r_prev = rs[p]
            r = np.array([(1.0 / t) / sum(k[i, j] * cs[p][j] for j in range(n)) for i in range(t)])
            c = np.array([(1.0 / n) / sum(k[i, j] * r[i] for i in range(t)) for j in range(n)])
            rs[p], cs[p] = r, c
            total += np.abs(r - r_prev).sum()
            count += t
        if total / count < tol:
            break
    return [rs[p][:, None] * k * cs[p][None, :] for p, k in enumerate(kernels)]


def _ref_scores(frames, descriptors, eps=0.1, max_iter=100, tol=1e-2):
    """S[b, k] = mean(V_b) . mean(D_k) + sum(P_bk * V_b D_k^T), explicit loops over b and k."""
    v = _np_normalize(np.asarray(frames, dtype=np.float64))
    d = _np_normalize(np.asarray(descriptors, dtype=np.float64))
    B, K = v.shape[0], d.shape[0]
    sims = {(b, k): v[b] @ d[k].T for b in range(B) for k in range(K)}
    keys = list(sims)
    plans = dict(zip(keys, _ref_sinkhorn([1.0 - sims[key] for key in keys], eps, max_iter, tol), strict=True))
    out = np.zeros((B, K))
    for b in range(B):
        for k in range(K):
            pooled = v[b].mean(axis=0) @ d[k].mean(axis=0)
            out[b, k] = pooled + (plans[(b, k)] * sims[(b, k)]).sum()
    return out


def _clip_like_cost(*shape, generator=None):
    """1 - cos with cos ~ 0.25 +- 0.05, the range of CLIP frame/text similarities."""
    return 1.0 - (0.25 + 0.05 * torch.randn(*shape, generator=generator, dtype=torch.float64))


def _embeds(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


# ------------------------------------------------------------------------------------------------ sinkhorn
def test_defaults_are_the_official_ones():
    assert (SINKHORN_EPSILON, SINKHORN_MAX_ITER, SINKHORN_TOL, TARGET_SHARPNESS) == (0.1, 100, 1e-2, 10.0)
    assert optimal_transport.sinkhorn is sinkhorn


@pytest.mark.parametrize("shape", [(5, 3), (2, 8, 4), (3, 2, 32, 4), (4, 1, 7), (6, 5, 1), (2, 3, 3)])
def test_sinkhorn_marginals_converged(shape):
    g = torch.Generator().manual_seed(sum(shape))
    cost = 2.0 * torch.rand(*shape, generator=g, dtype=torch.float64)
    plan = sinkhorn(cost, max_iter=20000, tol=1e-12)  # near-permutation kernels converge slowly
    T, N = shape[-2:]
    assert plan.shape == cost.shape
    assert (plan >= 0).all()
    torch.testing.assert_close(plan.sum(-1), torch.full(shape[:-1], 1.0 / T, dtype=plan.dtype), rtol=1e-6, atol=0)
    torch.testing.assert_close(plan.sum(-2), torch.full(shape[:-2] + (N,), 1.0 / N, dtype=plan.dtype),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", [(2, 8, 4), (3, 2, 32, 4), (4, 3, 7)])
@pytest.mark.parametrize("kind", ["uniform", "clip"])
def test_sinkhorn_marginals_default_settings(shape, kind):
    g = torch.Generator().manual_seed(7)
    cost = 2.0 * torch.rand(*shape, generator=g) if kind == "uniform" else _clip_like_cost(*shape, generator=g).float()
    plan = sinkhorn(cost)
    T, N = shape[-2:]
    assert plan.dtype == torch.float32 and torch.isfinite(plan).all()
    # columns are exact after every iteration (the c update comes last), rows to the stopping tolerance
    torch.testing.assert_close(plan.sum(-2) * N, torch.ones(shape[:-2] + (N,)), rtol=0, atol=1e-5)
    torch.testing.assert_close(plan.sum(-1) * T, torch.ones(shape[:-1]), rtol=0, atol=2e-2)
    assert abs(plan.sum(dim=(-2, -1)) - 1).max() < 1e-5


def test_sinkhorn_matches_plain_reference():
    g = torch.Generator().manual_seed(1)
    for cost in (2.0 * torch.rand(3, 4, 6, 3, generator=g, dtype=torch.float64),
                 _clip_like_cost(3, 4, 6, 3, generator=g)):
        expected = _ref_sinkhorn(list(cost.reshape(-1, 6, 3).numpy()))
        expected = torch.from_numpy(np.stack(expected)).reshape(cost.shape)
        torch.testing.assert_close(sinkhorn(cost), expected, rtol=1e-9, atol=0)  # float64: same iterates
        torch.testing.assert_close(sinkhorn(cost.float()), expected.float(), rtol=1e-4, atol=1e-7)


def test_sinkhorn_is_numerically_safe():
    cases = [torch.zeros(2, 8, 4), torch.full((2, 8, 4), 2.0), torch.tensor([[0.0, 2.0], [2.0, 0.0], [2.0, 2.0]])]
    cases.append(torch.where(torch.rand(4, 16, 4, generator=torch.Generator().manual_seed(3)) > 0.5, 2.0, 0.0))
    for cost in cases:
        plan = sinkhorn(cost)
        assert torch.isfinite(plan).all()
        torch.testing.assert_close(plan.sum(dim=(-2, -1)), torch.ones(cost.shape[:-2]), rtol=0, atol=1e-5)
    # a small epsilon makes exp(-C / eps) underflow to 0 in float32 (the plain algorithm divides 0 by 0 there)
    cost = 2.0 * torch.rand(3, 8, 4, generator=torch.Generator().manual_seed(4))
    assert (torch.exp(-cost / 0.002) == 0).any()
    plan = sinkhorn(cost, epsilon=0.002)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan.sum(-2) * 4, torch.ones(3, 4), rtol=0, atol=1e-4)


def test_sinkhorn_no_gradient_and_half_precision():
    cost = (2.0 * torch.rand(2, 8, 4, generator=torch.Generator().manual_seed(5))).requires_grad_()
    plan = sinkhorn(cost)
    assert not plan.requires_grad and plan.grad_fn is None
    half = sinkhorn(cost.detach().half())
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, sinkhorn(cost.detach().half().float()), rtol=0, atol=0)
    assert sinkhorn(cost.detach().double()).dtype == torch.float64
    assert sinkhorn(cost.detach().bfloat16()).dtype == torch.float32


def test_sinkhorn_stopping_rule():
    cost = _clip_like_cost(4, 8, 4, generator=torch.Generator().manual_seed(6)).float()
    log_r, log_c, log_k, n = _sinkhorn_log_scalings(cost, 0.1, 100, 1e-2)
    assert 1 < n < 100
    # it stopped: more iterations allowed change nothing
    torch.testing.assert_close(sinkhorn(cost), sinkhorn(cost, max_iter=1000), rtol=0, atol=0)
    torch.testing.assert_close(sinkhorn(cost), sinkhorn(cost, max_iter=n), rtol=0, atol=0)
    assert not torch.equal(sinkhorn(cost), sinkhorn(cost, max_iter=n - 1))
    # the test it passed: mean |r_n - r_(n-1)| < tol, and not at n - 1
    r = {m: _sinkhorn_log_scalings(cost, 0.1, m, 0.0)[0].exp() for m in (n - 2, n - 1, n)}
    r[0] = torch.ones_like(r[n])
    assert (r[n] - r[n - 1]).abs().mean() < 1e-2 <= (r[n - 1] - r[max(n - 2, 0)]).abs().mean()
    # and what the plan lacks of the converged one is below the tolerance in the scores it makes
    converged = sinkhorn(cost.double(), max_iter=10000, tol=0.0)
    assert ((sinkhorn(cost).double() - converged) * (1 - cost.double())).sum((-2, -1)).abs().max() < 1e-3
    # max_iter = 0 returns the kernel itself (r = c = 1)
    torch.testing.assert_close(sinkhorn(cost, max_iter=0), torch.exp(-cost / 0.1))


# ------------------------------------------------------------------------------------------------ scores and logits
def test_single_frame_single_descriptor():
    frames, spatial, temporal = _embeds(3, 1, 16, seed=1), _embeds(5, 1, 16, seed=2), _embeds(5, 1, 16, seed=3)
    unit = torch.nn.functional.normalize
    cos_s = unit(frames[:, 0], dim=-1) @ unit(spatial[:, 0], dim=-1).t()
    cos_t = unit(frames[:, 0], dim=-1) @ unit(temporal[:, 0], dim=-1).t()
    plan = sinkhorn(1 - torch.einsum("btd,knd->bktn", unit(frames, dim=-1), unit(spatial, dim=-1)))
    torch.testing.assert_close(plan, torch.ones(3, 5, 1, 1))
    torch.testing.assert_close(optimal_descriptor_scores(frames, spatial), 2 * cos_s)  # pooled = OT = cos
    logits = optimal_descriptor_logits(frames, spatial, temporal, math.log(50.0))
    torch.testing.assert_close(logits, 50.0 * (cos_s + cos_t))


def test_logits_against_explicit_loops():
    B, T, K, Ns, Nt, D = 3, 5, 4, 3, 2, 6
    frames, spatial, temporal = _embeds(B, T, D, seed=11), _embeds(K, Ns, D, seed=12), _embeds(K, Nt, D, seed=13)
    expected_s = _ref_scores(frames.numpy(), spatial.numpy())
    expected_t = _ref_scores(frames.numpy(), temporal.numpy())
    expected = 100.0 * (0.5 * expected_s + 0.5 * expected_t)
    torch.testing.assert_close(optimal_descriptor_scores(frames.double(), spatial.double()),
                               torch.from_numpy(expected_s), rtol=1e-9, atol=1e-9)
    logits64 = optimal_descriptor_logits(frames.double(), spatial.double(), temporal.double(), math.log(100.0))
    torch.testing.assert_close(logits64, torch.from_numpy(expected), rtol=1e-9, atol=1e-9)
    logits32 = optimal_descriptor_logits(frames, spatial, temporal, torch.tensor(math.log(100.0)))
    assert logits32.dtype == torch.float32 and logits32.shape == (B, K)
    torch.testing.assert_close(logits32, torch.from_numpy(expected).float(), rtol=1e-4, atol=1e-4)
    # other Sinkhorn settings reach the reference too
    torch.testing.assert_close(
        optimal_descriptor_scores(frames.double(), temporal.double(), epsilon=0.05, max_iter=7, tol=1e-4),
        torch.from_numpy(_ref_scores(frames.numpy(), temporal.numpy(), eps=0.05, max_iter=7, tol=1e-4)),
        rtol=1e-9, atol=1e-9)
    # embeddings of any norm: scaling them changes nothing
    torch.testing.assert_close(optimal_descriptor_logits(3 * frames, 0.5 * spatial, 7 * temporal, math.log(100.0)),
                               logits32, rtol=1e-5, atol=1e-4)


def test_gradients_reach_embeddings_not_the_plan():
    frames = _embeds(2, 4, 8, seed=21).requires_grad_()
    spatial = _embeds(3, 4, 8, seed=22).requires_grad_()
    temporal = _embeds(3, 2, 8, seed=23).requires_grad_()
    log_scale = torch.tensor(math.log(20.0), requires_grad=True)
    logits = optimal_descriptor_logits(frames, spatial, temporal, log_scale)
    weights = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    (logits * weights).sum().backward()
    for x in (frames, spatial, temporal):
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.testing.assert_close(log_scale.grad, (logits.detach() * weights).sum())  # d exp(s) S / ds
    # same gradients as with the plans held constant
    unit = torch.nn.functional.normalize
    grads = []
    for desc in (spatial, temporal):
        f2, d2 = frames.detach().clone().requires_grad_(), desc.detach().clone().requires_grad_()
        v, d = unit(f2, dim=-1), unit(d2, dim=-1)
        sim = torch.einsum("btd,knd->bktn", v, d)
        plan = sinkhorn(1 - sim).clone()
        score = v.mean(1) @ d.mean(1).t() + (plan * sim).sum((-2, -1))
        (20.0 * 0.5 * score * weights).sum().backward()
        grads.append((f2.grad, d2.grad))
    torch.testing.assert_close(frames.grad, grads[0][0] + grads[1][0])
    torch.testing.assert_close(spatial.grad, grads[0][1])
    torch.testing.assert_close(temporal.grad, grads[1][1])


def test_half_precision_inputs():
    frames, spatial, temporal = _embeds(3, 8, 32, seed=31), _embeds(6, 4, 32, seed=32), _embeds(6, 4, 32, seed=33)
    reference = optimal_descriptor_logits(frames, spatial, temporal, math.log(100.0))
    for dtype in (torch.float16, torch.bfloat16):
        out = optimal_descriptor_logits(frames.to(dtype), spatial.to(dtype), temporal.to(dtype),
                                        torch.tensor(math.log(100.0), dtype=dtype))
        assert out.dtype == torch.float32
        # half rounding of the embeddings (and of the log scale) only
        torch.testing.assert_close(out, reference, rtol=0, atol=1.5 if dtype == torch.bfloat16 else 0.2)
        assert (out.argmax(-1) == reference.argmax(-1)).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = optimal_descriptor_logits(frames, spatial, temporal, math.log(100.0))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-4)


def test_permutation_equivariance():
    frames, spatial, temporal = _embeds(4, 8, 16, seed=41), _embeds(7, 4, 16, seed=42), _embeds(7, 3, 16, seed=43)
    logits = optimal_descriptor_logits(frames, spatial, temporal, math.log(100.0))
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(optimal_descriptor_logits(frames, spatial[perm], temporal[perm], math.log(100.0)),
                               logits[:, perm], rtol=1e-6, atol=1e-5)
    rows = torch.randperm(4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(optimal_descriptor_logits(frames[rows], spatial, temporal, math.log(100.0)),
                               logits[rows], rtol=1e-6, atol=1e-5)


def test_input_validation():
    with pytest.raises(ValueError):
        sinkhorn(torch.rand(4))
    with pytest.raises(ValueError):
        sinkhorn(torch.rand(2, 3), epsilon=0.0)
    with pytest.raises(ValueError):
        optimal_descriptor_scores(torch.rand(2, 8), torch.rand(3, 4, 8))
    with pytest.raises(ValueError):
        optimal_descriptor_scores(torch.rand(2, 4, 8), torch.rand(3, 4, 6))
    with pytest.raises(ValueError):
        optimal_descriptor_logits(torch.rand(2, 4, 8), torch.rand(3, 4, 8), torch.rand(5, 4, 8), 0.0)
    with pytest.raises(ValueError):
        ost_contrastive_loss(torch.rand(4, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError):
        ost_contrastive_loss(torch.rand(3, 3), torch.tensor([0, 1, 3]))


# ------------------------------------------------------------------------------------------------ loss
def _ref_loss(logits_bm, labels, text_labels, sharpness=10.0):
    """Both KL terms by hand: targets softmax(s * [y_b == z_m]) per row, KL summed over columns, row-averaged."""
    s = np.asarray(logits_bm, dtype=np.float64)
    B, M = s.shape

    def kl_term(scores, gt):
        total = 0.0
        for i in range(scores.shape[0]):
            q = np.exp(sharpness * gt[i]) / np.exp(sharpness * gt[i]).sum()
            log_p = scores[i] - np.log(np.exp(scores[i] - scores[i].max()).sum()) - scores[i].max()
            total += sum(q[j] * (math.log(q[j]) - log_p[j]) for j in range(scores.shape[1]))
        return total / scores.shape[0]

    gt = np.array([[float(labels[b] == text_labels[m]) for m in range(M)] for b in range(B)])
    return kl_term(s, gt) + kl_term(s.T, gt.T)


def test_loss_against_direct_computation():
    g = torch.Generator().manual_seed(51)
    labels = torch.tensor([2, 0, 2, 5, 1, 0])
    logits = 20 * torch.randn(6, 7, generator=g, dtype=torch.float64)
    expected = _ref_loss(logits[:, labels].numpy(), labels.tolist(), labels.tolist())
    torch.testing.assert_close(ost_contrastive_loss(logits, labels), torch.tensor(expected, dtype=torch.float64))
    # the same loss from the logits of the batch's texts only
    torch.testing.assert_close(ost_contrastive_loss(logits[:, labels], labels, text_labels=labels),
                               torch.tensor(expected, dtype=torch.float64))
    # arbitrary text columns, another sharpness
    text_labels = torch.tensor([0, 1, 2, 3])
    expected = _ref_loss(logits[:, :4].numpy(), labels.tolist(), text_labels.tolist(), sharpness=3.0)
    torch.testing.assert_close(ost_contrastive_loss(logits[:, :4], labels, text_labels, target_sharpness=3.0),
                               torch.tensor(expected, dtype=torch.float64))


@pytest.mark.filterwarnings("ignore:reduction")
def test_loss_equals_official_nce_form():
    """Official: KLDivLoss(reduction='mean')(log_softmax(S), softmax(10 G)) * B, for S and S^T, added."""
    g = torch.Generator().manual_seed(52)
    labels = torch.tensor([3, 3, 1, 0, 1])
    logits = 30 * torch.randn(5, 4, generator=g)
    batch = logits[:, labels]
    gt = (labels[:, None] == labels[None, :]).float()
    kl = torch.nn.KLDivLoss(reduction="mean")
    official = sum(kl(torch.log_softmax(x, 1), torch.softmax(gt * 10, 1)) * len(x) for x in (batch, batch.T))
    torch.testing.assert_close(ost_contrastive_loss(logits, labels), official)


def test_loss_precision_and_gradient():
    g = torch.Generator().manual_seed(53)
    labels = torch.tensor([0, 1, 1, 2])
    logits = (10 * torch.randn(4, 3, generator=g)).requires_grad_()
    loss = ost_contrastive_loss(logits, labels)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    half = ost_contrastive_loss(logits.detach().half(), labels)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, loss.detach(), rtol=1e-2, atol=1e-2)
    # logits that rank every video's own class first score a lower loss than the reverse
    good = 10 * torch.nn.functional.one_hot(labels, 3).float()
    assert ost_contrastive_loss(good, labels) < ost_contrastive_loss(-good, labels)


# ------------------------------------------------------------------------------------------------ training logits
def _official_training_logits(frames, spatial, temporal, labels, scale):
    """The official training step's (B, B) logits, written from tomchen-ctj/OST (commit 1810ae6):

    `trainers/OST.py` L220-230 (`OST.forward`): each video's descriptor sets `des_*_token[label_id]` (duplicates
    included), L2-normalised, as the frames; `main_nce.py` L223-226: gathered, then `get_logit`;
    `trainers/OST.py` L164-172 (`get_logit`): `0.5 (pool_t + OT_t) + 0.5 (pool_s + OT_s)`, temporal solved first;
    L145-161 (`OptimalDescriptorSolver`): `(B A, T, N)` problems, `cost = 1 - sim`, `K = exp(-cost / 0.1)`,
    marginals `1/T`, `1/N`; L130-143 (`Sinkhorn`): from `r = c = 1`, `r = u / (K c)`, `c = v / (K^T r)`, stop once
    `mean |r - r0| < 1e-2` (one mean over all `B A T` entries), at most 100 iterations, `P = r c^T * K`.
    Linear domain, as there; float64 here.
    """
    def unit(x):
        return x / x.norm(dim=-1, keepdim=True)

    def solver(image, descriptor):
        a, n, _ = descriptor.shape
        b, t, _ = image.shape
        sim = torch.einsum("btd,and->tnba", image, descriptor).permute(2, 3, 0, 1).reshape(b * a, t, n)
        kernel = torch.exp(-(1 - sim) / 0.1)
        u = torch.full((b * a, t), 1.0 / t, dtype=sim.dtype)
        v = torch.full((b * a, n), 1.0 / n, dtype=sim.dtype)
        r, c = torch.ones_like(u), torch.ones_like(v)
        for _ in range(100):
            r0 = r
            r = u / torch.matmul(kernel, c.unsqueeze(-1)).squeeze(-1)
            c = v / torch.matmul(kernel.permute(0, 2, 1), r.unsqueeze(-1)).squeeze(-1)
            if (r - r0).abs().mean().item() < 1e-2:
                break
        plan = r.unsqueeze(-1) * c.unsqueeze(-2) * kernel
        return (plan * sim).sum((1, 2)).view(b, a) * scale

    v, d_s, d_t = unit(frames), unit(spatial[labels]), unit(temporal[labels])
    logits_t, logits_s = solver(v, d_t), solver(v, d_s)
    pool_s = scale * v.mean(1) @ d_s.mean(1).t()
    pool_t = scale * v.mean(1) @ d_t.mean(1).t()
    return 0.5 * (pool_t + logits_t) + 0.5 * (pool_s + logits_s)


def _clip_like_batch(seed, B=8, T=8, N=4, D=32, C=5):
    """Frames and per-class descriptors with cosines ~0.25 (Sinkhorn stops after ~10 iterations), labels drawn
    from C < B classes (repeats)."""
    g = torch.Generator().manual_seed(seed)
    common = torch.randn(D, generator=g, dtype=torch.float64)
    frames = common + 1.7 * torch.randn(B, T, D, generator=g, dtype=torch.float64)
    spatial = common + 1.7 * torch.randn(C, N, D, generator=g, dtype=torch.float64)
    temporal = common + 1.7 * torch.randn(C, N, D, generator=g, dtype=torch.float64)
    return frames, spatial, temporal, torch.randint(0, C, (B,), generator=g)


def test_training_logits_match_the_official_sinkhorn_stop_over_the_batch():
    """One descriptor set per video (what `OstObjective.loss` scores) gives the official (B, B) logits: the
    stopping test averages over the same B x B problems. Scoring the distinct labels and repeating columns weighs
    each label once and stops at another iteration in some batches."""
    moved = 0
    for seed in range(10):
        frames, spatial, temporal, labels = _clip_like_batch(seed)
        assert len(labels.unique()) < len(labels)
        expected = _official_training_logits(frames, spatial, temporal, labels, 100.0)
        logits = optimal_descriptor_logits(frames, spatial[labels], temporal[labels], math.log(100.0))
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)
        classes, per_video = torch.unique(labels, return_inverse=True)
        distinct = optimal_descriptor_logits(frames, spatial[classes], temporal[classes], math.log(100.0))
        moved += (distinct[:, per_video] - expected).abs().max().item() > 1e-4
    assert moved >= 2  # the batches above do exercise the difference (4 of these 10)
