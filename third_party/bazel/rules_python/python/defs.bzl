"""The native Python rules under rules_python's load path, `@rules_python//python:defs.bzl`."""

py_binary = native.py_binary
py_library = native.py_library
py_test = native.py_test
