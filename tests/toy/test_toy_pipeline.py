"""The zero-shot pipeline with the shipped toy CLIP names the shape in toy mp4 files (it knows objects, not motion)."""

import pytest
from transformers import pipeline

import hfvideoclip  # noqa: F401
from hfvideoclip.toy import SHAPES, ClipSpec, render_clip, toy_clip_path, write_mp4
from hfvideoclip.toy.world import seen_pairs


@pytest.fixture(scope="module")
def classifier():
    return pipeline("zero-shot-video-classification", model=toy_clip_path())


@pytest.mark.parametrize("motion", ["still", "bouncing"])
def test_pipeline_names_the_shape_of_a_toy_video(classifier, tmp_path, motion):
    paths = []
    for i, shape in enumerate(SHAPES):
        colour = [c for c, s in seen_pairs() if s == shape][i % 3]  # a pair the toy CLIP saw in pretraining
        path = tmp_path / f"{shape}.mp4"
        write_mp4(render_clip(ClipSpec(shape, colour, motion, "checkers"), seed=100 + i), path)
        paths.append(str(path))
    labels = [f"a {shape}" for shape in SHAPES]  # (on "dots" backgrounds circles are often taken for bars)
    predictions = classifier(paths, candidate_labels=labels)
    top = [prediction[0]["label"] for prediction in predictions]
    assert top == labels
    assert all(abs(sum(p["score"] for p in prediction) - 1.0) < 1e-4 for prediction in predictions)
