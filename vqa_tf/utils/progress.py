"""Progress of a long job: a live bar on a terminal, one plain line per update anywhere else."""

import sys


class Progress:
    """Reports `update(current, values)` calls of a job of `total` units.

    On a terminal this is Keras's progress bar. When standard output is a
    file or a pipe (CI logs, `| tee`), each update prints one line such as
    `step 400/8000: loss 0.6931, steps/s 14.2`, instead of a bar redrawn
    with backspaces into one endless line.

    Examples:
    >>> progress = Progress(200, unit_name="step", terminal=False)
    >>> progress.update(100, [("loss", 0.69314), ("steps/s", 14.2)])
    step 100/200: loss 0.6931, steps/s 14.2
    """

    def __init__(self, total, unit_name="step", terminal=None):
        self.total = total
        self.unit_name = unit_name
        if terminal is None:
            terminal = sys.stdout.isatty()
        self._bar = None
        if terminal:
            import keras

            self._bar = keras.utils.Progbar(total, unit_name=unit_name, stateful_metrics=["loss", "steps/s"])

    def update(self, current, values=()):
        if self._bar is not None:
            self._bar.update(current, list(values))
            return
        shown = ", ".join(f"{name} {value:.4g}" for name, value in values)
        print(f"{self.unit_name} {current}/{self.total}" + (f": {shown}" if shown else ""), flush=True)
