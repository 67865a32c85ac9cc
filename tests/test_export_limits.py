"""Request limits inside the exported SavedModel (rows, pixels per image, the decode budget of a call), through
`tf.saved_model.load` alone, so they hold under any server that runs the graph."""

import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf
from image_bytes import forged_jpeg, forged_png, repeated_last_scan, small_jpeg, small_png, zero_png
from training_runs import SMALL_DAN, TINY_RUN, program, run

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.export import (
    LIMITS_FILE,
    MAX_BATCH_ROWS,
    MAX_IMAGE_PIXELS,
    MAX_JPEG_SCANS,
    MAX_REQUEST_IMAGE_BYTES,
    MAX_REQUEST_PIXELS,
    ServingLimits,
    export,
)
from vqa_tf.training import train

QUESTION = "is there a red square?"


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
    assert limits == {
        "max_batch_rows": MAX_BATCH_ROWS,
        "max_image_pixels": MAX_IMAGE_PIXELS,
        "max_request_pixels": MAX_REQUEST_PIXELS,
        "max_request_image_bytes": MAX_REQUEST_IMAGE_BYTES,
        "max_jpeg_scans": MAX_JPEG_SCANS,
        "max_text_chars": 1000,
    }


def test_a_call_of_no_rows_is_refused_by_name(serve, smem_export):
    with pytest.raises(tf.errors.InvalidArgumentError, match="the request has no rows"):
        serve(question=tf.constant([], tf.string), image=tf.constant([], tf.string))
    features = tf.saved_model.load(smem_export[1]).signatures["serve_features"]
    grid = np.zeros((0, *features.structured_input_signature[1]["image_features"].shape[1:]), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="the request has no rows"):
        features(question=tf.constant([], tf.string), image_features=grid)


def test_a_call_over_its_decode_budget_is_refused_from_the_headers_quickly_and_without_memory(serve):
    """Three 4096² PNGs pass max_image_pixels each, but declare 1.5 × max_request_pixels together: refused
    before any is decoded (decoding them would take about a second of CPU and 150 MB)."""
    side = 4096
    images = [zero_png(side, side)] * 3
    before, start = rss_mb(), time.monotonic()
    message = f"declare {3 * side * side} pixels in all .*more than max_request_pixels={MAX_REQUEST_PIXELS}"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(question=tf.constant([QUESTION] * 3), image=tf.constant(images))
    elapsed, rise = time.monotonic() - start, rss_mb() - before
    assert elapsed < 0.5 and rise < 50, (elapsed, rise)


def test_a_call_over_its_image_bytes_is_refused_before_decoding(serve):
    """Bytes after a PNG's end are ignored by its decoder, so these two images are small to decode but hold
    more bytes together than max_request_image_bytes."""
    padded = small_png() + bytes(MAX_REQUEST_IMAGE_BYTES // 2)
    total = 2 * len(padded)
    message = f"hold {total} bytes in all, more than max_request_image_bytes={MAX_REQUEST_IMAGE_BYTES}"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(question=tf.constant([QUESTION] * 2), image=tf.constant([padded] * 2))
    assert serve(question=tf.constant([QUESTION]), image=tf.constant([padded]))["answer"].shape == (1,)


def test_a_jpeg_of_more_scans_than_the_limit_is_refused_before_decoding(serve):
    """Each scan passes over the whole image again: 5,000 twelve-byte scans of a 2048² JPEG (86 KB) would
    take seconds of CPU. A progressive JPEG as encoders write it (10 scans) answers."""
    progressive = tf.io.encode_jpeg(tf.zeros([2048, 2048, 3], tf.uint8), progressive=True).numpy()
    for scans in (10, 32):  # as written, and at the limit
        image = tf.constant([repeated_last_scan(progressive, scans)])
        assert serve(question=tf.constant([QUESTION]), image=image)["answer"].shape == (1,)
    start = time.monotonic()
    with pytest.raises(tf.errors.InvalidArgumentError, match="a JPEG has 5000 scans, more than max_jpeg_scans=32"):
        serve(question=tf.constant([QUESTION]), image=tf.constant([repeated_last_scan(progressive, 5000)]))
    assert time.monotonic() - start < 0.5


def test_a_decode_budget_below_one_image_is_refused():
    with pytest.raises(ValueError, match="max_request_pixels=100 must be at least max_image_pixels=1000"):
        ServingLimits(max_image_pixels=1000, max_request_pixels=100)


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
            "--max_request_pixels=2000",
            "--max_request_image_bytes=4000",
        ]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = str(tmp_path / "1")
    with open(os.path.join(path, "assets", LIMITS_FILE)) as f:
        assert json.load(f) == {
            "max_batch_rows": 3,
            "max_image_pixels": 1000,
            "max_request_pixels": 2000,
            "max_request_image_bytes": 4000,
            "max_jpeg_scans": MAX_JPEG_SCANS,
            "max_text_chars": 1000,
        }
    # Its warm-up requests keep within its own limits, or a server would fail to load it.
    from vqa_tf.serving.model_version import ModelVersion

    assert ModelVersion(path, 1).warm_up() == 2
    loaded = tf.saved_model.load(path)
    serve, features = loaded.signatures["serving_default"], loaded.signatures["serve_features"]
    out = serve(question=tf.constant([QUESTION] * 2), image=tf.constant([small_png(31, 32)] * 2))
    assert out["answer"].shape == (2,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than max_image_pixels=1000"):
        serve(question=tf.constant([QUESTION]), image=tf.constant([small_png(32, 32)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="declare 2976 pixels in all.*max_request_pixels=2000"):
        serve(question=tf.constant([QUESTION] * 3), image=tf.constant([small_png(31, 32)] * 3))
    noisy = tf.io.encode_png(np.random.default_rng(0).integers(0, 256, (30, 30, 3), np.uint8)).numpy()
    assert 2000 < len(noisy) < 4000
    assert serve(question=tf.constant([QUESTION]), image=tf.constant([noisy]))["answer"].shape == (1,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_request_image_bytes=4000"):
        serve(question=tf.constant([QUESTION] * 2), image=tf.constant([noisy] * 2))
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
        export(
            str(tmp_path / "mdan"),
            str(tmp_path / "exports"),
            limits=ServingLimits(max_batch_rows=2, max_image_pixels=64 * 64),
        )
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
