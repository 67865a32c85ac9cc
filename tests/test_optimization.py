"""The optimizer settings that are more than Keras arguments: the model's learning-rate multiplier."""

import numpy as np
import pytest
from training_runs import TINY

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.training import train
from vqa_tf.training.model_dir import restore_model

# One plain SGD step on images, the backbone trained with the model from seeded random weights.
ONE_STEP = (
    f"{TINY},data.input=images,data.backbone_pretraining=,trainer.train_steps=1,trainer.checkpoint_every=1,"
    "optimizer.name=sgd,optimizer.momentum=0.0,optimizer.learning_rate=0.01"
)


def _weights_after_one_step(model_dir, override):
    """{"backbone": [...], "model": [...]}: the trainable weights of each part after the step."""
    train(apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{ONE_STEP},{override}"), str(model_dir))
    _, parts, _ = restore_model(str(model_dir))
    return {
        "backbone": [v.numpy() for v in parts.backbone.trainable_variables],
        "model": [v.numpy() for v in parts.core.trainable_variables],
    }


@pytest.mark.slow
def test_model_lr_multiplier_scales_the_model_layers_step_and_not_the_backbones(tmp_path):
    start = _weights_after_one_step(tmp_path / "start", "optimizer.learning_rate=0.0")
    plain = _weights_after_one_step(tmp_path / "plain", "optimizer.model_lr_multiplier=1.0")
    scaled = _weights_after_one_step(tmp_path / "scaled", "optimizer.model_lr_multiplier=10.0")
    for part, expected in (("backbone", 1.0), ("model", 10.0)):
        moved = [
            (p - s, q - s) for s, p, q in zip(start[part], plain[part], scaled[part]) if np.abs(p - s).max() > 1e-6
        ]
        assert moved, f"no {part} weight moved"
        ratios = [np.abs(scaled_step).sum() / np.abs(step).sum() for step, scaled_step in moved]
        np.testing.assert_allclose(ratios, expected, rtol=1e-3)


def test_model_lr_multiplier_refuses_adam():
    from vqa_tf.configs.experiment_config import OptimizerConfig
    from vqa_tf.training.optimization import build_optimizer

    with pytest.raises(ValueError, match="needs optimizer.name = sgd"):
        build_optimizer(OptimizerConfig(name="adam", model_lr_multiplier=10.0), steps_per_epoch=10)
