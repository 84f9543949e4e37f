"""Arguments that would train silently wrong: `--max_steps 0` is refused; a run without a CUDA device does not
pin DataLoader memory unless asked to."""

import pytest
import torch

from hfvideoclip.cli import main as cli_main
from hfvideoclip.training.arguments import VideoClipTrainingArguments
from hfvideoclip.training.recipe import parse_args


@pytest.mark.parametrize("steps", [0, -2])
def test_max_steps_zero_or_below_minus_one_is_refused(tmp_path, steps, capsys):
    with pytest.raises(ValueError, match=r"--max_steps must be a positive number of steps, or -1"):
        VideoClipTrainingArguments(output_dir=str(tmp_path), max_steps=steps, use_cpu=True)
    assert cli_main(["train", "--max_steps", str(steps), "--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --max_steps")
    assert VideoClipTrainingArguments(output_dir=str(tmp_path), max_steps=-1, use_cpu=True).max_steps == -1


@pytest.mark.skipif(torch.cuda.is_available(), reason="the default is to pin memory on a CUDA device")
def test_pin_memory_off_without_cuda_unless_asked(tmp_path):
    assert parse_args(["--output_dir", str(tmp_path)]).training.dataloader_pin_memory is False
    asked = parse_args(["--output_dir", str(tmp_path), "--dataloader_pin_memory", "true"])
    assert asked.training.dataloader_pin_memory is True


@pytest.mark.parametrize("flag, adaptation", [("lora_r", "full"), ("msta_dim", "lora"), ("st_adapter_dim", "msta")])
def test_an_adapter_flag_of_another_adaptation_is_refused(flag, adaptation, tmp_path):
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    with pytest.raises(ValueError, match=f"--{flag} applies to --adaptation"):
        VideoClipTrainingArguments(output_dir=str(tmp_path), adaptation=adaptation, **{flag: 32}, report_to="none")
    VideoClipTrainingArguments(output_dir=str(tmp_path), adaptation={"lora_r": "lora", "msta_dim": "adapter",
                                                                     "st_adapter_dim": "st_adapter"}[flag],
                               **{flag: 32}, report_to="none")
