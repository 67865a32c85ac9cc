"""Program: `vqa-export` (installed as vqa_tf.programs.export)."""

from vqa_tf import cli

cli.quiet_tensorflow()  # before any program here imports TensorFlow
