"""Train a video CLIP with a registered method: `accelerate launch recipes/train.py --method taco`.

Presets ship inside the package (`hfvideoclip/methods/<method>/preset.yaml`); every flag of
VideoClipTrainingArguments, transformers' TrainingArguments and the method's own config overrides them
(`--help` lists them by group). Without --model/--protocol/own-data flags it trains on the toy world and evaluates.
A method registered in this process (`hfvideoclip.methods.register_method`) trains the same way.
"""

import sys

from hfvideoclip.training.recipe import main

if __name__ == "__main__":
    sys.exit(main())
