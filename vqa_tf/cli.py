"""What every vqa_tf program shares: a quiet TensorFlow start-up, `--verbosity`, one-line errors.

By default a program shows what its user needs (its own progress and
results, warnings and errors) and hides TensorFlow's start-up chatter
(oneDNN, CPU features, "Could not find cuda drivers", a failed cuInit on a
machine without a GPU) and INFO logs. `--verbosity=0` (absl's flag; 1 for
debug) shows everything, as TensorFlow prints it.

Each program folder's `__init__` calls `quiet_tensorflow()` before any
program module imports TensorFlow, and each program's entry point is
`run(main)`.
"""

import inspect
import logging as python_logging
import os
import re
import sys
import tempfile

from absl import app, flags, logging

from vqa_tf.errors import StoppedBySignal, VqaTfError

# Errors a program reports as `error: <message>` and exit status 1, without a traceback.
ERRORS = (VqaTfError, KeyError, ValueError, FileNotFoundError, FileExistsError)
_LEVELS = {"debug": 1, "info": 0, "warning": -1, "error": -2, "fatal": -3}
# TensorFlow's start-up lines: C++ INFO/WARNING log lines, their continuation, absl's preamble.
_CHATTER = re.compile(
    r"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]|To enable the following instructions:|"
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)


def asked_verbosity(argv):
    """The `--verbosity` / `-v` value on a command line (absl's names or numbers), or None.

    Examples:
    >>> asked_verbosity(["prog", "--verbosity=0"]), asked_verbosity(["prog", "-v", "debug"]), asked_verbosity(["prog"])
    (0, 1, None)
    """
    for i, arg in enumerate(argv[1:], start=1):
        value = None
        for name in ("--verbosity", "-v"):
            if arg.startswith(name + "="):
                value = arg[len(name) + 1 :]
            elif arg == name and i + 1 < len(argv):
                value = argv[i + 1]
        if value is not None:
            try:
                return _LEVELS[value.lower()] if value.lower() in _LEVELS else int(value)
            except ValueError:
                return None  # absl reports the bad value when it parses the flags
    return None


def quiet_tensorflow():
    """Imports TensorFlow without its start-up chatter, unless `--verbosity` asks for INFO or more.

    TensorFlow's C++ INFO and WARNING logs are switched off (TF_CPP_MIN_LOG_LEVEL=2,
    unless the environment sets it), and the lines XLA's CUDA loader prints
    regardless of that setting are filtered out of what TensorFlow writes to
    stderr while it is imported and lists its devices. Any other line (an
    error, say) is passed on. On a machine without a GPU the failed cuInit
    is expected and dropped too.
    """
    asked = asked_verbosity(sys.argv)
    if asked is not None and asked >= 0:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        has_gpu = None
        try:
            import tensorflow as tf

            has_gpu = bool(tf.config.list_physical_devices("GPU"))
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines()
            kept = [line for line in lines if not _CHATTER.match(line) and not (has_gpu is False and "cuInit" in line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def _describe_program(program):
    """Makes `--help` show the program module's docstring and its flags, also when a console script runs it.

    absl's short help describes the `__main__` module and the flags keyed to
    it; under a console script `__main__` is the script's wrapper.
    """
    entry = sys.modules["__main__"]
    if entry is not program and program.__doc__:
        entry.__doc__ = program.__doc__
    for module, defined in flags.FLAGS.flags_by_module_dict().items():
        if module in (program.__name__, "__main__") or module.startswith("vqa_tf."):
            for flag in defined:
                flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run(main, errors=(), default_verbosity=logging.WARNING):
    """absl's `app.run(main)` with vqa_tf's defaults.

    `--help` shows the docstring and flags of the program that calls `run`.
    Unless `--verbosity` is given, absl logs at `default_verbosity` (WARNING:
    a program prints its own progress and results) and TensorFlow's Python
    logger at WARNING. A bad flag, config or data file, or any error in
    `ERRORS` or `errors`, ends the program with `error: <message>` on stderr
    and exit status 1 instead of a traceback; a `StoppedBySignal` ends it with
    its exit status (143 for SIGTERM) and its message as a warning. Under `bazel run`, relative paths
    resolve against the directory `bazel run` was called from.
    """
    _describe_program(sys.modules[inspect.currentframe().f_back.f_globals["__name__"]])
    # `bazel run` starts a program in its runfiles tree: relative paths are the user's.
    os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.curdir))

    def configured(argv):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(default_verbosity)
            python_logging.getLogger("tensorflow").setLevel(python_logging.WARNING)
        return main(argv)

    try:
        app.run(configured)
    except StoppedBySignal as stopped:  # its state is saved: a warning, and the signal's exit status
        logging.warning("%s", stopped)
        sys.exit(stopped.exit_status)
    except (*ERRORS, *errors) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        sys.exit(f"error: {message}")
