"""A model or checkpoint written in an older weight layout is refused with a message that says so.

`tests/data/format_1/` holds a small r-DAN (`conftest.small_model("reasoning_dan")`) as vqa_tf wrote it
before model format 2: a training checkpoint (model and optimizer, step 3) and a `.keras` file.
"""

import filecmp
import shutil
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from conftest import ragged_batch, small_model
from training_runs import SMALL_DAN, command, run

import vqa_tf  # noqa: F401  (registers the classes a .keras file names)
from vqa_tf.models.multimodal_model import MODEL_FORMAT, OlderFormatError
from vqa_tf.training import model_dir as files

FORMAT_1 = Path(__file__).with_name("data") / "format_1"


def test_a_checkpoint_of_the_older_format_is_refused_by_name(tmp_path):
    shutil.copytree(FORMAT_1 / "checkpoints", tmp_path / files.CHECKPOINT_DIR)
    model = small_model("reasoning_dan")
    with pytest.raises(OlderFormatError, match=r"ckpt-3 comes from an older vqa_tf that recorded no model format"):
        files.restore_weights(model, str(tmp_path))


def test_a_checkpoint_of_the_present_format_restores(tmp_path, rng):
    model = small_model("reasoning_dan")
    model(ragged_batch(rng))
    checkpoint = files.training_checkpoint(model, keras.optimizers.SGD())
    tf.train.CheckpointManager(checkpoint, str(tmp_path / files.CHECKPOINT_DIR), 1).save()
    assert files.restore_weights(small_model("reasoning_dan"), str(tmp_path)).endswith("ckpt-1")


def test_a_keras_file_of_the_older_format_is_refused_by_name():
    with pytest.raises(
        Exception, match=rf"older vqa_tf that recorded no model format; this vqa_tf reads model format {MODEL_FORMAT}"
    ):
        keras.saving.load_model(FORMAT_1 / "reasoning_dan.keras")


def test_a_config_of_another_format_is_refused():
    config = small_model("smem_vqa").get_config()
    assert config["model_format"] == MODEL_FORMAT
    with pytest.raises(OlderFormatError, match="model format 1; this vqa_tf reads model format"):
        type(small_model("smem_vqa")).from_config({**config, "model_format": 1})


@pytest.mark.slow
def test_resuming_over_an_older_checkpoint_stops_before_training_and_keeps_it(tmp_path):
    model_dir = tmp_path / "run"
    done = run(command(str(model_dir), 2, experiment="rdan_synthetic", model=SMALL_DAN))
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(model_dir / files.CHECKPOINT_DIR)
    shutil.copytree(FORMAT_1 / "checkpoints", model_dir / files.CHECKPOINT_DIR)

    done = run(command(str(model_dir), 4, experiment="rdan_synthetic", model=SMALL_DAN))

    assert done.returncode == 1
    assert "error: checkpoint" in done.stderr and "comes from an older vqa_tf" in done.stderr, done.stderr[-3000:]
    comparison = filecmp.dircmp(FORMAT_1 / "checkpoints", model_dir / files.CHECKPOINT_DIR)
    assert not (comparison.left_only or comparison.right_only or comparison.diff_files)
