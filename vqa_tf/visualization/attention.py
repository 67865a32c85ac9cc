"""Attention maps drawn over the input image, one panel per hop, as in the papers' figures."""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vqa_tf.utils.files import write_bytes


def render_attention_figure(image, question, answer, attention, path, truth=None):
    """Writes a PNG: the image, then one panel per hop with its attention map laid over it.

    Args:
        image: uint8 [H, W, 3].
        question: the question text (the title).
        answer: the model's answer.
        attention: [hops, h, w] region weights.
        path: the PNG file to write (any `tf.io.gfile` path; its directory is created).
        truth: the expected answer, if known (shown beside the model's).

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "figure.png")
    >>> render_attention_figure(np.zeros((64, 64, 3), np.uint8), "is there a red square?", "yes",
    ...                         np.full((2, 8, 8), 1 / 64), path, truth="no")
    >>> open(path, "rb").read(4)
    b'\\x89PNG'
    """
    hops = len(attention)
    figure = Figure(figsize=(2.4 * (hops + 1), 2.9), dpi=100)
    FigureCanvasAgg(figure)
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    panels = figure.subplots(1, hops + 1, squeeze=False)[0]
    panels[0].imshow(image, extent=extent)
    panels[0].set_title("input", fontsize=9)
    for hop, (panel, weights) in enumerate(zip(panels[1:], attention), start=1):
        panel.imshow(image, extent=extent)
        panel.imshow(weights, cmap="inferno", alpha=0.6, extent=extent, interpolation="bilinear")
        panel.set_title(f"hop {hop} (max {np.max(weights):.2f})", fontsize=9)
    for panel in panels:
        panel.set_xticks([])
        panel.set_yticks([])
    verdict = "" if truth is None else f"   (expected: {truth})"
    figure.suptitle(f"Q: {question}\nA: {answer}{verdict}", fontsize=10)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png")
    write_bytes(path, png.getvalue())
