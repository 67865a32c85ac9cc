"""The optimizer, learning-rate schedule and L2 regularizer of an OptimizerConfig."""

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


class _SummedGradients:
    """Applies gradients its caller already summed across replicas, instead of summing them again.

    Keras' TF optimizers all-reduce the gradients inside `apply_gradients`, after
    their own clipping. The training step must clip the *summed* gradient by its
    global norm, so it all-reduces once itself (`make_train_step`); this keeps that
    the only all-reduce of the step. Under one replica both are the same.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


class SummedGradientsSGD(_SummedGradients, keras.optimizers.SGD):
    """`keras.optimizers.SGD` for gradients already summed across replicas.

    Examples:

        optimizer = SummedGradientsSGD(0.01, momentum=0.9)
    """


class SummedGradientsAdam(_SummedGradients, keras.optimizers.Adam):
    """`keras.optimizers.Adam` for gradients already summed across replicas.

    Examples:

        optimizer = SummedGradientsAdam(1e-3)
    """


def build_optimizer(config, steps_per_epoch):
    """The optimizer of `config` for `make_train_step`, whose gradients arrive summed across replicas."""
    schedule = learning_rate_schedule(config, steps_per_epoch)
    if config.name == "sgd":
        return SummedGradientsSGD(schedule, momentum=config.momentum)
    if config.name == "adam":
        if config.model_lr_multiplier != 1.0:
            raise ValueError(
                "optimizer.model_lr_multiplier scales the gradient, which Adam's step ignores; "
                "it needs optimizer.name = sgd"
            )
        return SummedGradientsAdam(schedule)
    raise ValueError(f"unknown optimizer {config.name!r}; valid: sgd, adam")


def weight_decay_regularizer(config):
    """The L2 regularizer of `config.weight_decay` (weight_decay / 2 · ‖W‖²), or None when it is 0.

    The models take it as `kernel_regularizer`, which their layers apply to every
    kernel and word embedding (not to biases, position codes or a backbone CNN);
    the training step adds the model's `losses`.

    Examples:
    >>> from vqa_tf.configs import OptimizerConfig
    >>> weight_decay_regularizer(OptimizerConfig(weight_decay=5e-4)).get_config()
    {'l2': 0.00025}
    """
    return keras.regularizers.L2(config.weight_decay / 2) if config.weight_decay > 0 else None
