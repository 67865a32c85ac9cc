"""The usage examples in public docstrings run and print what they claim."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
from system_packages import require_wordnet

import vqa_tf

MODULES = sorted(info.name for info in pkgutil.walk_packages(vqa_tf.__path__, prefix="vqa_tf."))


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    if module_name == "vqa_tf.metrics.wups":
        require_wordnet()
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
