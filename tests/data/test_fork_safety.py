"""DataLoader workers forked from a process holding frame-threaded decoders in cyclic garbage do not hang.

Each case runs in a fresh interpreter: the parent decodes a few frames with frame threads, leaves the decoder in a
reference cycle (as a kept traceback does) with its collector off, then iterates a one-worker DataLoader whose
worker collects garbage. Without the fork guard the worker hangs freeing the inherited decoder (the control).
"""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import gc, sys
    import av, numpy as np, torch
    guarded = sys.argv[2] == "guarded"
    if guarded:
        import hfvideoclip  # registers the fork guard
    path = sys.argv[1]
    with av.open(path, "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.thread_count = 1
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")
            for packet in stream.encode(frame.reformat(format="yuv420p", threads=1)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    class Cycle:
        pass

    def leave_threaded_decoder_in_garbage():
        container = av.open(path)
        stream = container.streams.video[0]
        stream.thread_type = "FRAME"
        stream.codec_context.thread_count = 2  # threads whatever the machine's core count
        for i, _ in enumerate(container.decode(stream)):
            if i == 5:
                break
        container.close()
        holder = Cycle()
        holder.self, holder.stream = holder, stream

    gc.disable()  # the garbage lingers, as it does until a full collection
    baseline = gc.get_freeze_count()  # not always 0 (375 at Python 3.12.1's start)
    if sys.argv[3] == "self-frozen":
        gc.freeze()
    leave_threaded_decoder_in_garbage()
    frozen_before = gc.get_freeze_count()

    class CollectingDataset(torch.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            gc.collect()  # the worker's collector, as its allocations trigger it
            return index, gc.isenabled()

    loader = torch.utils.data.DataLoader(CollectingDataset(), num_workers=1, timeout=int(sys.argv[4]))
    try:
        print("items", [(int(i), bool(on)) for i, on in loader])
    except RuntimeError as error:
        print("error", error)
    print("parent_freeze_unchanged", gc.get_freeze_count() == frozen_before)
    print("self_frozen_kept", gc.get_freeze_count() > baseline)
    print("parent_collection_off", not gc.isenabled())
    print("collected", gc.collect() > 0)
    """
)


def run_case(tmp_path, mode, freezing="plain", timeout=60):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "v.avi"), mode, freezing, str(timeout)],
                            capture_output=True, text=True, timeout=timeout + 120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("freezing", ["plain", "self-frozen"])
def test_worker_does_not_hang_on_inherited_threaded_decoder(tmp_path, freezing):
    out = run_case(tmp_path, "guarded", freezing)
    # The worker returned; its collector was off as in its parent (the parent turned it off here).
    assert "items [(0, False)]" in out, out
    # The parent's heap is as it was: nothing frozen by the fork (what it froze itself stays frozen, less what it
    # freed since), its collection setting kept, and the garbage it holds still its own to collect.
    if freezing == "plain":
        assert "parent_freeze_unchanged True" in out, out
    assert f"self_frozen_kept {freezing == 'self-frozen'}" in out, out
    assert "parent_collection_off True" in out, out
    assert "collected True" in out, out


def test_control_without_the_guard_hangs(tmp_path):
    """Shows the scenario above is real: the same process without the guard times out in the worker."""
    out = run_case(tmp_path, "unguarded", timeout=8)
    assert "timed out" in out, out


def test_child_collects_again_and_parent_is_untouched():
    """With collection on, the child collects again once it has frozen what it inherited; the parent's frozen set
    and setting are unchanged by the fork."""
    script = textwrap.dedent(
        """
        import gc, os
        import hfvideoclip  # registers the fork guard
        before = gc.get_freeze_count()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, f"{gc.isenabled()} {gc.get_freeze_count() > before}".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print("child", os.read(read, 100).decode())
        print("parent", gc.isenabled(), gc.get_freeze_count() == before)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "child True True" in result.stdout and "parent True True" in result.stdout, result.stdout
