"""Upload an exported hfvideoclip run to the Hugging Face Hub.

    python recipes/push_to_hub.py RUN_DIR --repo org/name [--dry-run] [--staging-dir S] [--private]
        [--commit-message M] [--revision BRANCH] [--license L] [--include-trainer-state] [--no-adapter] [--keep-card]

Stages the model (safetensors weights, config with auto_map, its code files), the processor, descriptors.json (OST),
msta/ (msta runs), adapter/ (LoRA runs, next to the merged model), results.json, results.md, plots, train_args.json
and a README.md card regenerated for the repository; never checkpoints or optimizer states. `--dry-run` stages and
lists the files only. The token is HF_TOKEN or your `huggingface-cli login` (there is no token flag). Same flags as
`hfvideoclip push`; the logic lives in `hfvideoclip.hub.push`.
"""

import sys

from hfvideoclip.hub.push import main

if __name__ == "__main__":
    sys.exit(main(prog="recipes/push_to_hub.py"))
