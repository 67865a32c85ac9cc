"""`runtime.deterministic`'s process-wide part: TensorFlow's op determinism."""

import tensorflow as tf


def apply_op_determinism(runtime):
    """Turns on TensorFlow's op determinism for the whole process when `runtime.deterministic` is set.

    Everything that trains under a config calls it first (the training loop, backbone pretraining), so that a
    step runs the same kernels whatever the process ran before. It cannot be turned off again.

    Examples:
    >>> from vqa_tf.configs import RuntimeConfig
    >>> apply_op_determinism(RuntimeConfig(deterministic=False))  # leaves the process as it is
    """
    if runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
