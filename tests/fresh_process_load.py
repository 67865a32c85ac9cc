"""Loads every `<name>.keras` in a directory in this fresh process and runs it.

Usage: python fresh_process_load.py DIR. For each model it reads
`<name>.inputs.npz` and writes `<name>.outputs.npz` (outputs flattened in
`keras.tree.flatten` order). Only `vqa_tf.models` is imported, as a user would.
"""

import pathlib
import sys

import keras
import numpy as np

import vqa_tf.models  # noqa: F401  (registers the serializable classes)


def _inputs(path):
    arrays = np.load(path)
    if "token_ids" in arrays:
        return {key: arrays[key] for key in arrays}
    return [arrays[str(i)] for i in range(len(arrays))]


def main(directory):
    for saved in sorted(pathlib.Path(directory).glob("*.keras")):
        name = saved.name[: -len(".keras")]
        model = keras.saving.load_model(saved)
        outputs = keras.tree.flatten(model(_inputs(saved.with_name(f"{name}.inputs.npz"))))
        np.savez(saved.with_name(f"{name}.outputs.npz"), *[np.asarray(o) for o in outputs])


if __name__ == "__main__":
    main(sys.argv[1])
