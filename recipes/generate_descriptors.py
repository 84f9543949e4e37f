"""Generate the class-description files of FROSTER, MSTA and OST with a local language model (or templates).

    python recipes/generate_descriptors.py --kind ost --class_names k400.csv --model Qwen/Qwen2.5-7B-Instruct \
        --output_dir descriptors/k400                                   # spatial.json + temporal.json, 4 per class
    python recipes/generate_descriptors.py --kind msta --class_names classes.txt --model PATH --output_dir D
                                                                        # spatial.json + temporal.json, 2 sentences
    python recipes/generate_descriptors.py --kind froster --class_names classes.json --model PATH --output_dir D
                                                                        # descriptions.json {"0": "Name: ..."}
    python recipes/generate_descriptors.py --kind ost --protocol toy-b2n --fallback template --output_dir D
                                                                        # the toy world, no model

The vocabulary comes from ``--class_names`` (.txt one per line, .json list or {"0": name}, .csv/.tsv id,name) or
from a registered ``--protocol`` (all its classes, or ``--split S --protocol_set train|base|novel|test``).
``--model`` (a local folder or Hub id of any causal LM; ``--local_files_only`` never downloads) answers the papers'
queries greedily (``--do_sample`` to sample); ``--fallback template`` writes fixed template texts instead.

Files in ``--output_dir``:
    spatial.json, temporal.json   OST / MSTA: {"<class index>": [text, ...]}, exactly --num_descriptors per class
                                  (default OST 4, MSTA 2)
    descriptions.json             FROSTER: {"<class index>": "<Class name>: <description>"}
    class_names.json              {"<class index>": name}: the vocabulary the indices refer to
    generation.json               method, counts, queries, model, decoding, classes padded with template texts
    completions.json              the model's raw answers (with --model)
Load them with `hfvideoclip.text.descriptors.load_descriptions`. The logic lives in
`hfvideoclip.text.descriptor_generation` (`main`).
"""

import sys

from hfvideoclip.text.descriptor_generation import main

if __name__ == "__main__":
    sys.exit(main())
