"""The programs, installed: the top-level `trainers/`, `export/` and `serving/` folders of the source tree.

`setup.py` maps those folders here (`vqa_tf.programs.trainers`, …), so a
wheel installs one top-level name, `vqa_tf`, and the console scripts
(`vqa-train-vqa`, `vqa-model-server`, …) run these modules. In the source
tree they also run as `python -m trainers.train_vqa` and the like.
"""
