"""Bad command lines get one line that says what is wrong and how to fix it (issue 25), never a usage dump or a
traceback from deep inside torch, transformers or the Hub client."""

import numpy as np
import pytest
import torch

from hfvideoclip.cli import main as cli_main
from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.encode import write_mp4


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("videos") / "a.mp4"
    write_mp4(np.zeros((8, 16, 16, 3), np.uint8), path, fps=8)
    return str(path)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_predict_with_a_missing_model_folder(video, tmp_path, capsys):
    assert cli_main(["predict", video, "--model", str(tmp_path / "missing"), "--labels", "a,b"]) == 2
    assert "no such model folder" in _one_line(capsys)


def test_predict_with_an_unreachable_hub_id(video, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at call time: no network wait
    assert cli_main(["predict", video, "--model", "org/not-cached-anywhere", "--labels", "a,b"]) == 2
    assert "--model org/not-cached-anywhere could not be loaded" in _one_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a torch without a usable GPU")
def test_predict_on_cuda_without_a_gpu(video, capsys):
    assert cli_main(["predict", video, "--model", toy_clip_path(), "--labels", "a,b", "--device", "cuda"]) == 2
    err = _one_line(capsys)
    assert "--device cuda: this torch" in err and "use --device cpu" in err


@pytest.mark.parametrize("argv", [["train", "--max_steps", "x"], ["evaluate", "--num_clips", "x"],
                                  ["predict", "v.mp4", "--model", "m", "--labels", "a", "--top_k", "x"]])
def test_a_bad_flag_value_is_one_line_not_the_usage(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        cli_main(argv)
    assert raised.value.code == 2
    err = _one_line(capsys)
    assert "invalid int value: 'x'" in err and "--help)" in err


def test_report_to_an_uninstalled_tracker(tmp_path, capsys, monkeypatch):
    import transformers.integrations as integrations

    monkeypatch.setattr(integrations, "is_tensorboard_available", lambda: False)
    assert cli_main(["train", "--report_to", "tensorboard", "--output_dir", str(tmp_path)]) == 2
    err = _one_line(capsys)
    assert "tensorboard is not installed" in err and "hfvideoclip[tensorboard]" in err


def test_generate_descriptors_input_errors(tmp_path, capsys):
    from hfvideoclip.text.descriptor_generation import main

    assert main(["--class_names", str(tmp_path / "missing.csv"), "--output_dir", str(tmp_path / "out"),
                 "--fallback", "template"]) == 2
    assert "missing.csv" in _one_line(capsys)
