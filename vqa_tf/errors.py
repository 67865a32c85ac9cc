"""The base of every error vqa_tf raises on purpose.

Each subpackage raises its own subclass (`DataError`, `NaNLossError`,
`UnservableOpError`, `ServingError`); the programs print any of them as one
line, `error: <message>`, instead of a traceback.
"""


class VqaTfError(Exception):
    """An error whose message names the problem well enough to show a user as is.

    Example:
    >>> try:
    ...     raise VqaTfError("model_dir holds no checkpoint")
    ... except VqaTfError as error:
    ...     print(f"error: {error}")
    error: model_dir holds no checkpoint
    """
