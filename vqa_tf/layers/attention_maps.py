"""Region-weight bookkeeping shared by every VQA model's `attention` output."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vqa_tf")
class AttentionMaps(keras.layers.Layer):
    """Stacks per-hop region weights [batch, L] into maps [batch, hops, H, W].

    Args:
        grid_height: H of the region grid.
        grid_width: W of the region grid (L = H·W, row-major).

    Examples:
    >>> maps = AttentionMaps(grid_height=7, grid_width=7)
    >>> maps([np.ones((2, 49), "float32")] * 2).shape
    TensorShape([2, 2, 7, 7])
    """

    def __init__(self, grid_height, grid_width, **kwargs):
        super().__init__(**kwargs)
        self.grid_height = grid_height
        self.grid_width = grid_width

    def call(self, region_weights):
        stacked = ops.stack(list(region_weights), axis=1)
        return ops.reshape(stacked, (-1, len(region_weights), self.grid_height, self.grid_width))

    def compute_output_shape(self, region_weights_shape):
        batch = region_weights_shape[0][0]
        return (batch, len(region_weights_shape), self.grid_height, self.grid_width)

    def get_config(self):
        config = super().get_config()
        config.update({"grid_height": self.grid_height, "grid_width": self.grid_width})
        return config


@keras.saving.register_keras_serializable(package="vqa_tf")
class MeanRegionPool(keras.layers.Layer):
    """Mean over regions, returned with the uniform weights 1/L it reads with.

    Mean pooling is attention with equal weight on every region; returning
    those weights lets a model without learned attention (iBOWIMG) fill the
    same `attention` output as the others.

    Examples:
    >>> pooled, weights = MeanRegionPool()(np.ones((2, 49, 16), "float32"))
    >>> pooled.shape, float(weights[0, 0])
    (TensorShape([2, 16]), 0.02040816...)
    """

    def call(self, regions):
        pooled = ops.mean(regions, axis=1)
        weights = ops.ones_like(regions[:, :, 0]) / ops.cast(ops.shape(regions)[1], regions.dtype)
        return pooled, weights

    def compute_output_spec(self, regions):
        batch, num_regions, channels = regions.shape
        dtype = self.compute_dtype
        return (
            keras.KerasTensor((batch, channels), dtype=dtype),
            keras.KerasTensor((batch, num_regions), dtype=dtype),
        )
