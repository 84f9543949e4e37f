"""OST's contrastive loss over the global batch under 2 processes (gloo, CPU): the loss and the DDP-averaged
gradients equal a one-process run on the concatenated batch.

The official training step (tomchen-ctj/OST, commit 1810ae6, `main_nce.py` L221-232) all-gathers the frame
embeddings and each video's spatial and temporal descriptor embeddings (`allgather`, L223-225) and the labels
(`gather_labels`, L227), scores the gathered videos against the gathered descriptor sets (`get_logit`, L226),
builds the label-equality ground truth of the gathered labels (`gen_label`, L229, L74-80) and adds the two KL
terms (L230-232). The one-process reference below is that step on the concatenated batch.
"""

import datetime
import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from hfvideoclip.methods.ost.loss import gather_batch, optimal_descriptor_logits, ost_contrastive_loss

WORLD = 2
LABELS = torch.tensor([0, 3, 0, 1, 3, 2, 1, 0])  # repeats within and across the two processes' halves
SPLITS = {"equal": (4, 4), "unequal": (5, 3)}


class _Toy(nn.Module):
    """A video and a text projection (near identity, so CLIP-like cosines survive) and a logit scale."""

    def __init__(self, dim=16):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.video = nn.Linear(dim, dim, dtype=torch.float64)
        self.text = nn.Linear(dim, dim, dtype=torch.float64)
        with torch.no_grad():
            for layer in (self.video, self.text):
                layer.weight.copy_(torch.eye(dim, dtype=torch.float64) + 0.1 * torch.randn(dim, dim, generator=g,
                                                                                           dtype=torch.float64))
                layer.bias.copy_(0.1 * torch.randn(dim, generator=g, dtype=torch.float64))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(100.0), dtype=torch.float64))

    def forward(self, frame_inputs, spatial_inputs, temporal_inputs, labels):
        """(B, T, d), (B, N, d), (B, N, d) per-video inputs and (B,) labels -> the global batch's loss."""
        frames, spatial, temporal, labels = gather_batch(
            self.video(frame_inputs), self.text(spatial_inputs), self.text(temporal_inputs), labels)
        logits = optimal_descriptor_logits(frames, spatial, temporal, self.logit_scale)  # (B_g, B_g)
        return ost_contrastive_loss(logits, labels, text_labels=labels)


def _inputs(dim=16, T=8, N=4, classes=4):
    """The global batch: frames and each video's descriptor sets (its class's, duplicates included), cos ~0.25."""
    g = torch.Generator().manual_seed(1)
    common = torch.randn(dim, generator=g, dtype=torch.float64)
    frames = common + 1.2 * torch.randn(len(LABELS), T, dim, generator=g, dtype=torch.float64)
    spatial = common + 1.2 * torch.randn(classes, N, dim, generator=g, dtype=torch.float64)
    temporal = common + 1.2 * torch.randn(classes, N, dim, generator=g, dtype=torch.float64)
    return frames, spatial[LABELS], temporal[LABELS], LABELS


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    try:
        results = {}
        for case, split in SPLITS.items():
            model = nn.parallel.DistributedDataParallel(_Toy())
            start = sum(split[:rank])
            loss = model(*(x[start:start + split[rank]] for x in _inputs()))
            loss.backward()  # DDP averages the parameters' gradients over the processes
            results[case] = (loss.detach(), {n: p.grad for n, p in model.module.named_parameters()})
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()  # neither process leaves (rank 0 holds the store) while the other still needs the group
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(180)
def test_two_processes_equal_one_process_on_the_concatenated_batch(tmp_path):
    model = _Toy()
    loss = model(*_inputs())  # no process group: the whole batch in one process
    loss.backward()
    expected = {n: p.grad for n, p in model.named_parameters()}
    assert all(g.abs().sum() > 0 for g in expected.values())

    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True, start_method="spawn")
    for rank in range(WORLD):
        results = torch.load(tmp_path / f"rank{rank}.pt")
        for case in SPLITS:
            rank_loss, grads = results[case]
            torch.testing.assert_close(rank_loss, loss.detach(), rtol=1e-10, atol=0)  # the global loss, not scaled
            for name, grad in expected.items():
                torch.testing.assert_close(grads[name], grad, rtol=1e-8, atol=1e-10, msg=f"{case} {rank} {name}")

    # each process alone sees a different loss: the gather is what makes them equal
    half = _Toy()(*(x[:4] for x in _inputs()))
    assert abs(half.item() - loss.item()) > 0.1


def test_one_process_gather_is_the_identity():
    x, labels = torch.randn(3, 4, requires_grad=True), torch.tensor([1, 0, 1])
    out, out_labels = gather_batch(x, labels)
    assert out is x and out_labels is labels
