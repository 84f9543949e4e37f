"""Evaluate a video-text model on an open-vocabulary protocol or on your own videos.

    python recipes/evaluate.py --model DIR_OR_ID --protocol toy-b2n --output_dir D \
        [--num_clips 1 --num_crops 1 --batch_size 8 --templates kinetics|single --cache_dir ...] \
        [--class_descriptions FROSTER/label_rephrase]   # FROSTER's rephrased class texts, matched by name
    python recipes/evaluate.py --model DIR_OR_ID --validation_dir VIDEOS --output_dir D     # VIDEOS/<class>/<video>
    python recipes/evaluate.py --model DIR_OR_ID --validation_file val.csv --output_dir D   # video,label columns
    python recipes/evaluate.py --model DIR_OR_ID --dataset_name NAME [--dataset_config_name C] \
        [--video_column_name video --label_column_name label] --output_dir D
    accelerate launch recipes/evaluate.py ...   # videos sharded over the processes

Writes D/results.json ({"protocol", "model", "metrics", "per_split"}), D/results.md and D/plot_<split>.png and
prints the table. `--protocol` takes any registered protocol (`hfvideoclip.data.available_protocols()`);
`--protocol all` runs every toy protocol into D/<protocol>/. The own-data flags win over `--protocol`. Without
`--model` the shipped tiny toy CLIP is evaluated zero-shot. Same flags as `hfvideoclip evaluate`; the logic lives
in `hfvideoclip.evaluation.cli`.
"""

import sys

from hfvideoclip.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="recipes/evaluate.py"))
