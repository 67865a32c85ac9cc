"""Programs: the local model server, `vqa-predict`, the quick start (installed as vqa_tf.programs.serving).

`config/` holds TF Serving's config files and `compose.yaml` runs the real server.
"""

from vqa_tf import cli

cli.quiet_tensorflow()  # before any program here imports TensorFlow
