"""Programs: feature extraction, training, evaluation, attention figures (installed as vqa_tf.programs.trainers)."""

from vqa_tf import cli

cli.quiet_tensorflow()  # before any program here imports TensorFlow
