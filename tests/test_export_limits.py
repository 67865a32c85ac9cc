"""Request limits inside the exported SavedModel (`max_batch_rows`, `max_image_pixels`), through
`tf.saved_model.load` alone, so they hold under any server that runs the graph."""

import json
import os
import struct
import time
import zlib

import numpy as np
import pytest
import tensorflow as tf
from training_runs import SMALL_DAN, TINY_RUN, program, run

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.export import LIMITS_FILE, MAX_BATCH_ROWS, MAX_IMAGE_PIXELS, export
from vqa_tf.training import train

QUESTION = "is there a red square?"


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(height, width):
    """A real RGB PNG of `height` × `width` black pixels, deflated row by row (15000² → about 650 KiB)."""
    deflate, row = zlib.compressobj(9), bytes(1 + 3 * width)  # filter byte 0, then the row
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def forged_png(png, height, width):
    """`png` whose IHDR declares `height` × `width` (with a valid CRC), the pixel data unchanged."""
    header = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png_chunk(b"IHDR", header) + png[33:]


def forged_jpeg(jpeg, height, width):
    """`jpeg` whose SOF0 frame header declares `height` × `width`."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def small_png(height=64, width=64):
    return tf.io.encode_png(tf.fill([height, width, 3], tf.constant(128, tf.uint8))).numpy()


def small_jpeg(height=64, width=64):
    return tf.io.encode_jpeg(tf.fill([height, width, 3], tf.constant(128, tf.uint8))).numpy()


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.fixture(scope="module")
def serve(smem_export):
    """serving_default of the shared SMem export (default limits), after one good call."""
    signature = tf.saved_model.load(smem_export[1]).signatures["serving_default"]
    signature(question=tf.constant([QUESTION]), image=tf.constant([small_png()]))
    return signature


def test_limits_file_holds_the_defaults(smem_export):
    with tf.io.gfile.GFile(os.path.join(smem_export[1], "assets", LIMITS_FILE)) as f:
        limits = json.load(f)
    assert limits == {"max_batch_rows": MAX_BATCH_ROWS, "max_image_pixels": MAX_IMAGE_PIXELS, "max_text_chars": 1000}


def test_rows_over_the_limit_are_refused_by_name(serve):
    rows = MAX_BATCH_ROWS + 1
    message = f"more (question|image) rows than max_batch_rows={MAX_BATCH_ROWS}"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(question=tf.constant([QUESTION] * rows), image=tf.constant([small_png()] * rows))
    out = serve(question=tf.constant([QUESTION] * MAX_BATCH_ROWS), image=tf.constant([small_png()] * MAX_BATCH_ROWS))
    assert out["answer"].shape == (MAX_BATCH_ROWS,)


HUGE = {
    "a 15000x15000 PNG": lambda: zero_png(15000, 15000),
    "a PNG whose IHDR claims 15000x15000": lambda: forged_png(small_png(), 15000, 15000),
    "a PNG whose IHDR claims 2^32-1 squared": lambda: forged_png(small_png(), 2**32 - 1, 2**32 - 1),
    "a JPEG whose header claims 15000x15000": lambda: forged_jpeg(small_jpeg(), 15000, 15000),
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_a_huge_image_is_refused_by_its_header_quickly_and_without_memory(serve, name):
    image = HUGE[name]()
    assert len(image) < 1 << 20
    before, start = rss_mb(), time.monotonic()
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"larger than max_image_pixels={MAX_IMAGE_PIXELS}"):
        serve(question=tf.constant([QUESTION, QUESTION]), image=tf.constant([small_png(), image]))
    elapsed, rise = time.monotonic() - start, rss_mb() - before
    assert elapsed < 1.0 and rise < 100, (elapsed, rise)


BROKEN = {
    "a PNG claiming more than its data": (lambda: forged_png(small_png(), 1000, 1000), "Invalid PNG|another size"),
    "a truncated PNG": (lambda: small_png()[:60], "Invalid PNG"),
    "a truncated JPEG header": (lambda: small_jpeg()[:100], "Invalid JPEG"),
    "a GIF": (lambda: b"GIF89a" + bytes(40), "neither JPEG nor PNG"),
    "a BMP": (lambda: b"BM" + bytes(60), "neither JPEG nor PNG"),
    "no bytes": (lambda: b"", "neither JPEG nor PNG"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_forged_truncated_and_other_images_fail_cleanly(serve, name):
    image, message = BROKEN[name]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(question=tf.constant([QUESTION]), image=tf.constant([image()]))


def test_forged_headers_within_the_limit_decode_no_more_than_they_claim(serve):
    """libpng reads only the rows and columns IHDR declares (a 4000x4000 PNG claiming 2x2 decodes to 2x2), and
    libjpeg fills what a JPEG claiming 1000x1000 lacks: both answer, within memory the header bounds."""
    images = [forged_png(zero_png(4000, 4000), 2, 2), forged_jpeg(small_jpeg(), 1000, 1000)]
    before = rss_mb()
    out = serve(question=tf.constant([QUESTION] * 2), image=tf.constant(images))
    assert out["answer"].shape == (2,) and rss_mb() - before < 100


@pytest.mark.slow
def test_vqa_export_flags_set_the_limits_and_the_file(smem_export, tmp_path):
    model_dir, _ = smem_export
    done = run(
        [
            *program("export.export_saved_model"),
            f"--model_dir={model_dir}",
            f"--export_base={tmp_path}",
            "--max_batch_rows=3",
            "--max_image_pixels=1000",
        ]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = str(tmp_path / "1")
    with open(os.path.join(path, "assets", LIMITS_FILE)) as f:
        assert json.load(f) == {"max_batch_rows": 3, "max_image_pixels": 1000, "max_text_chars": 1000}
    # Its warm-up requests keep within its own limits, or a server would fail to load it.
    from vqa_tf.serving.model_version import ModelVersion

    assert ModelVersion(path, 1).warm_up() == 2
    loaded = tf.saved_model.load(path)
    serve, features = loaded.signatures["serving_default"], loaded.signatures["serve_features"]
    out = serve(question=tf.constant([QUESTION] * 3), image=tf.constant([small_png(31, 32)] * 3))
    assert out["answer"].shape == (3,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than max_image_pixels=1000"):
        serve(question=tf.constant([QUESTION]), image=tf.constant([small_png(32, 32)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more (question|image) rows than max_batch_rows=3"):
        serve(question=tf.constant([QUESTION] * 4), image=tf.constant([small_png(8, 8)] * 4))
    grid = np.zeros((4, *features.structured_input_signature[1]["image_features"].shape[1:]), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="(question|image_features) rows than max_batch_rows="):
        features(question=tf.constant([QUESTION] * 4), image_features=grid)


@pytest.mark.slow
def test_matching_endpoints_enforce_the_limits(tmp_path):
    config = apply_overrides(
        get_experiment("mdan_synthetic"),
        f"{TINY_RUN},trainer.train_steps=2,data.num_train=64,data.num_eval=32,{SMALL_DAN}",
    )
    train(config, str(tmp_path / "mdan"))
    loaded = tf.saved_model.load(
        export(str(tmp_path / "mdan"), str(tmp_path / "exports"), max_batch_rows=2, max_image_pixels=64 * 64)
    )
    images, captions = tf.constant([small_png()] * 3), tf.constant(["a red square"] * 3)
    calls = {
        "serving_default": dict(image=images, caption=captions),
        "embed_image": dict(image=images),
        "embed_text": dict(caption=captions),
    }
    for name, inputs in calls.items():
        with pytest.raises(tf.errors.InvalidArgumentError, match="rows than max_batch_rows=2"):
            loaded.signatures[name](**inputs)
        assert len(loaded.signatures[name](**{k: v[:2] for k, v in inputs.items()})) == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than max_image_pixels=4096"):
        loaded.signatures["embed_image"](image=tf.constant([forged_png(small_png(), 65, 64)]))
