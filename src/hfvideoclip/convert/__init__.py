"""Checkpoint converters: the original Open-VCLIP, FROSTER, ViFi-CLIP, OST, OpenAI CLIP and ViCLIP files to
`VideoClipModel` (`hfvideoclip convert`). Not shipped to the Hub with a model."""
