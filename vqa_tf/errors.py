"""The base of every error vqa_tf raises on purpose.

Each subpackage raises its own subclass (`DataError`, `NaNLossError`,
`UnservableOpError`, `ServingError`); the programs print any of them as one
line, `error: <message>`, instead of a traceback.
"""


class StoppedBySignal(Exception):
    """A job stopped on a signal after saving its state (e.g. training on SIGTERM, at a checkpoint).

    Not a failure: rerunning the same command resumes. The programs exit with
    `exit_status`, 128 + the signal's number (143 for SIGTERM), as a process
    killed by it would, and print the message as a warning.

    Examples:
    >>> error = StoppedBySignal("SIGTERM: saved a checkpoint at step 120; exiting", exit_status=143)
    >>> error.exit_status, str(error)
    (143, 'SIGTERM: saved a checkpoint at step 120; exiting')
    """

    def __init__(self, message, exit_status):
        super().__init__(message)
        self.exit_status = exit_status


class VqaTfError(Exception):
    """An error whose message names the problem well enough to show a user as is.

    Examples:
    >>> try:
    ...     raise VqaTfError("model_dir holds no checkpoint")
    ... except VqaTfError as error:
    ...     print(f"error: {error}")
    error: model_dir holds no checkpoint
    """
