"""Linear embedding of grid regions with a learned per-region bias."""

import keras
from keras import ops

from vqa_tf.layers.weight_arguments import initializer_for_weight, regularizer_for_weight, serialize_argument


@keras.saving.register_keras_serializable(package="vqa_tf")
class RegionEmbedding(keras.layers.Layer):
    """`S·W + b` for region features S [batch, L, M], with b ∈ R^{L×units}.

    The bias is learned separately for every region, so it acts as a position
    code: it is what lets SMem-VQA answer "top", "bottom", "left", "right".
    SMem-VQA uses one instance for the attention embedding A and one for each
    evidence embedding E, E₂, …

    Args:
        units: embedding size N.
        kernel_initializer: initializer of W (a name, config or instance).
        bias_initializer: initializer of b.
        kernel_regularizer: regularizer of W, or None.

    Examples:
    >>> layer = RegionEmbedding(units=8)
    >>> layer(np.zeros((2, 49, 16), "float32")).shape
    TensorShape([2, 49, 8])
    """

    def __init__(
        self, units, kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape):
        num_regions, feature_dim = input_shape[-2], input_shape[-1]
        if num_regions is None or feature_dim is None:
            raise ValueError(
                "RegionEmbedding needs a static number of regions and channels; "
                f"got region features of shape {tuple(input_shape)}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(feature_dim, self.units),
            initializer=initializer_for_weight(self.kernel_initializer),
            regularizer=regularizer_for_weight(self.kernel_regularizer),
        )
        self.region_bias = self.add_weight(
            name="region_bias",
            shape=(num_regions, self.units),
            initializer=initializer_for_weight(self.bias_initializer),
        )

    def call(self, regions):
        return ops.matmul(regions, self.kernel) + self.region_bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_initializer": serialize_argument(self.kernel_initializer),
                "bias_initializer": serialize_argument(self.bias_initializer),
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config
