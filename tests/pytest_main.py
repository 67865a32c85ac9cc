"""Runs this test suite under pytest; the entry point of the Bazel `:tests` target."""

import os
import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main([os.path.dirname(os.path.abspath(__file__)), *sys.argv[1:]]))
