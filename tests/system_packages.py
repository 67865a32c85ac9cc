"""Tests that need a Debian package: skipped on a user's machine with the package to install, failed in CI.

`.ci/run` installs every system package the tests use, so under CI (`CI=true`) a missing one is a failure;
elsewhere the README's test command passes with Python alone and names what it skipped.
"""

import os
import shutil

import pytest

from vqa_tf.metrics.wups import DEFAULT_WORDNET_DIR, WORDNET_DIR_ENV


def require(present, package, what):
    """Goes on if `present`; else skips (fails under CI=true) naming `what` needs and the Debian `package`."""
    if present:
        return
    message = f"{what} needs Debian's {package} (apt-get install {package})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; .ci/run installs it, and CI does not skip without it")
    pytest.skip(reason=message)


def require_wordnet():
    directory = os.environ.get(WORDNET_DIR_ENV) or DEFAULT_WORDNET_DIR
    require(os.path.isfile(os.path.join(directory, "data.noun")), "wordnet-base", "WUPS (WordNet 3.0)")


def require_program(program, package, what):
    """The path of `program` on PATH (see `require`)."""
    path = shutil.which(program)
    require(path is not None, package, what)
    return path
