"""Fuzzing the `image` input of an exported `serving_default` (through `tf.saved_model.load`): random bytes,
truncated, bit-flipped and header-forged PNG and JPEG either answer or raise InvalidArgumentError, each
within 2 s, and a good request afterwards still gets the reference answer."""

import time

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_bytes import forged_jpeg, forged_png, small_jpeg, small_png

QUESTION = "is there a red square?"
FUZZ = settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
VALID = {"png": small_png(48, 40), "jpeg": small_jpeg(48, 40)}


@pytest.fixture(scope="module")
def serve_and_reference(smem_export):
    serve = tf.saved_model.load(smem_export[1]).signatures["serving_default"]
    return serve, reference_answer(serve)


def reference_answer(serve):
    return serve(question=tf.constant([QUESTION]), image=tf.constant([VALID["png"]]))["answer"].numpy().tolist()


def answers_or_refuses(serve_and_reference, image):
    serve, reference = serve_and_reference
    start = time.monotonic()
    try:
        out = serve(question=tf.constant([QUESTION]), image=tf.constant([image]))
        assert out["answer"].shape == (1,)
    except tf.errors.InvalidArgumentError:
        pass
    assert time.monotonic() - start < 2.0
    assert reference_answer(serve) == reference


@FUZZ
@given(
    image=st.binary(max_size=512)
    | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]).flatmap(
        lambda magic: st.binary(max_size=512).map(lambda rest: magic + rest)
    )
)
def test_random_bytes(serve_and_reference, image):
    answers_or_refuses(serve_and_reference, image)


@FUZZ
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_truncated_and_bit_flipped_images(serve_and_reference, kind, data):
    image = VALID[kind]
    image = image[: data.draw(st.integers(0, len(image)))]
    for _ in range(data.draw(st.integers(0, 3))):
        if image:
            at = data.draw(st.integers(0, len(image) - 1))
            image = image[:at] + bytes([data.draw(st.integers(0, 255))]) + image[at + 1 :]
    answers_or_refuses(serve_and_reference, image)


@FUZZ
@given(height=st.integers(0, 2**32 - 1) | st.integers(0, 5000), width=st.integers(0, 2**32 - 1) | st.integers(0, 5000))
def test_forged_png_headers(serve_and_reference, height, width):
    answers_or_refuses(serve_and_reference, forged_png(VALID["png"], height, width))


@FUZZ
@given(height=st.integers(0, 65535), width=st.integers(0, 65535))
def test_forged_jpeg_headers(serve_and_reference, height, width):
    answers_or_refuses(serve_and_reference, forged_jpeg(VALID["jpeg"], height, width))
