"""The optimizer and learning-rate schedule of an OptimizerConfig, and the weights L2 applies to."""

import keras


def learning_rate_schedule(config, steps_per_epoch):
    """A constant, or a step schedule multiplying the rate by `decay_factor` at each boundary."""
    boundaries = list(config.decay_boundaries)
    if not boundaries:
        return config.learning_rate
    if config.decay_unit == "epochs":
        boundaries = [int(b * steps_per_epoch) for b in boundaries]
    values = [config.learning_rate * config.decay_factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def build_optimizer(config, steps_per_epoch):
    schedule = learning_rate_schedule(config, steps_per_epoch)
    if config.name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=config.momentum)
    if config.name == "adam":
        if config.model_lr_multiplier != 1.0:
            raise ValueError("optimizer.model_lr_multiplier scales the gradient, which Adam's step ignores; "
                             "it needs optimizer.name = sgd")
        return keras.optimizers.Adam(schedule)
    raise ValueError(f"unknown optimizer {config.name!r}; valid: sgd, adam")


def l2_weights(model):
    """Kernels and embeddings: the weights L2 applies to (not biases, not position codes)."""
    return [v for v in model.trainable_variables if v.name in ("kernel", "embeddings") or v.name.endswith("_kernel")]
