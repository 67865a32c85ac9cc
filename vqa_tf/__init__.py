"""vqa_tf: Spatial Memory Networks and Dual Attention Networks in Keras 3 / TensorFlow.

Subpackages load on first use (`vqa_tf.models`, `vqa_tf.serving`, …), so a
process imports only what it touches: the model server never loads the
Keras model classes or the training stack. `import vqa_tf.models` registers
the models and layers with Keras, which `keras.saving.load_model` needs.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = frozenset(
    {
        "cli",
        "configs",
        "data",
        "demo",
        "errors",
        "export",
        "layers",
        "losses",
        "metrics",
        "models",
        "programs",
        "search",
        "serving",
        "text",
        "training",
        "utils",
        "vision",
        "visualization",
    }
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"vqa_tf.{name}")
    raise AttributeError(f"module 'vqa_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBPACKAGES)
