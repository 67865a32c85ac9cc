"""The programs, installed: the top-level `trainers/`, `export/` and `serving/` folders of the source tree.

`setup.py` maps those folders here (`vqa_tf.programs.trainers`, …), so a
wheel installs one top-level name, `vqa_tf`, and the console scripts
(`vqa-train-vqa`, `vqa-model-server`, …) run these modules. In a source tree
or a Bazel runfiles tree the folders sit beside `vqa_tf/` instead, and an
import finder reaches them there: `python -m vqa_tf.programs.trainers.train_vqa`
runs in all three layouts.
"""

import importlib.machinery
import os
import sys

_FOLDERS = ("trainers", "export", "serving")
_BESIDE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _FoldersBesideFinder:
    """Finds `vqa_tf.programs.<folder>` as the folder of that name beside `vqa_tf/`."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        prefix, _, folder = name.rpartition(".")
        if prefix != __name__ or folder not in _FOLDERS:
            return None
        return importlib.machinery.PathFinder.find_spec(name, [_BESIDE])


if any(os.path.isfile(os.path.join(_BESIDE, folder, "__init__.py")) for folder in _FOLDERS):
    sys.meta_path.append(_FoldersBesideFinder)
