"""Backbones, local weights, image decoding."""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from vqa_tf.vision import BACKBONES, build_backbone, grid_shape, load_images
from vqa_tf.vision.backbones import CaffePreprocessing


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_grid_at_its_paper_size(name):
    spec = BACKBONES[name]
    backbone = build_backbone(name)
    assert backbone.output.shape == (None, spec.grid_size, spec.grid_size, spec.feature_dim)
    images = np.random.default_rng(0).uniform(0, 255, (1, spec.image_size, spec.image_size, 3))
    assert backbone(images.astype("float32")).shape == (1, spec.grid_size, spec.grid_size, spec.feature_dim)


def test_caffe_preprocessing_flips_to_bgr_and_subtracts_the_means():
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], "float32")
    expected = np.array([[[[30 - 103.939, 20 - 116.779, 10 - 123.68]]]])
    np.testing.assert_allclose(np.asarray(CaffePreprocessing()(rgb)), expected, rtol=1e-6)


def test_weights_load_from_a_local_keras_weights_file(tmp_path):
    trained = build_backbone("small_cnn")
    path = str(tmp_path / "small_cnn.weights.h5")
    trained.save_weights(path)
    loaded = build_backbone("small_cnn", weights_path=path)
    images = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(trained(images)))


def test_weights_load_from_a_keras_applications_notop_file(tmp_path):
    """The format of keras.applications' ImageNet downloads, placed on disk by the user."""
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.VGG19(include_top=False, weights=None, input_shape=(64, 64, 3))
    path = str(tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    backbone = build_backbone("vgg19", image_size=64, weights_path=path)
    images = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    expected = reference(np.asarray(CaffePreprocessing()(images)))
    np.testing.assert_allclose(np.asarray(backbone(images)), np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_missing_weights_file_and_unknown_backbone():
    with pytest.raises(FileNotFoundError, match="nowhere.weights.h5 does not exist"):
        build_backbone("small_cnn", weights_path="/nowhere.weights.h5")
    with pytest.raises(KeyError, match="valid names: resnet152, small_cnn, vgg19"):
        build_backbone("resnet50")


def test_decode_and_resize_png_and_jpeg():
    pixels = np.zeros((20, 10, 3), np.uint8)
    pixels[:, :5] = 255
    png, jpeg = tf.io.encode_png(pixels), tf.io.encode_jpeg(pixels, quality=100)
    images = load_images(tf.stack([png, jpeg]), image_size=8).numpy()
    assert images.shape == (2, 8, 8, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, :, 0], 255.0)
    np.testing.assert_allclose(images[0, :, -1], 0.0)
    np.testing.assert_allclose(images[1], images[0], atol=16.0)  # JPEG ringing at the edge


def test_corrupt_image_bytes_raise():
    with pytest.raises(tf.errors.InvalidArgumentError):
        load_images(tf.constant([b"\x89PNG\r\n\x1a\n this is not an image"]), image_size=8)


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("small_cnn", 50), ("vgg19", 100), ("vgg19", 300), ("resnet152", 100)])
def test_grid_shape_predicts_the_built_backbone_at_any_size(name, size):
    assert grid_shape(name, size) == tuple(build_backbone(name, size).output.shape[1:])


def test_weights_load_from_any_gfile_path(tmp_path):
    trained = build_backbone("small_cnn")
    local = str(tmp_path / "small_cnn.weights.h5")
    trained.save_weights(local)
    remote = "ram://weights/small_cnn.weights.h5"
    tf.io.gfile.makedirs("ram://weights")
    tf.io.gfile.copy(local, remote, overwrite=True)
    loaded = build_backbone("small_cnn", weights_path=remote)
    images = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(trained(images)))
    with pytest.raises(FileNotFoundError, match="backbone weights file ram://weights/missing.h5 does not exist"):
        build_backbone("small_cnn", weights_path="ram://weights/missing.h5")
