"""Runs one test file under pytest: the `main` of every py_test in tests/BUILD.

`bazel test //tests:test_numerics` runs `pytest tests/test_numerics.py` in that target's
runfiles tree, and vqa_tf comes from those runfiles only, so a target that lacks a dep fails
to import it. Two things would otherwise answer for a missing module: Python puts the real
(source-tree) folder of this script first on the path, and a `pip install -e .` of vqa_tf
adds an import finder for the whole source tree.

Under `--config=ci` (`-m "not slow"`), a file whose tests are all slow passes once it has
imported and collected them: CI ran them under pytest just before.
"""

import os
import sys

import pytest

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.abspath(__file__))  # the runfiles' tests/, not the source tree's
    sys.meta_path[:] = [
        finder for finder in sys.meta_path if not getattr(finder, "__module__", "").startswith("__editable__")
    ]
    code = pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and "-m" in sys.argv:
        print(f"every test in {sys.argv[1]} was deselected by -m {sys.argv[sys.argv.index('-m') + 1]!r}")
        code = pytest.ExitCode.OK
    sys.exit(code)
