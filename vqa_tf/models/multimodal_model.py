"""Base class of every vqa_tf model: a functional Keras model over a region grid and token ids."""

import keras
import tensorflow as tf

from vqa_tf.errors import VqaTfError
from vqa_tf.layers.dropout import Dropout
from vqa_tf.layers.weight_arguments import regularizer_for_weight

IMAGE_FEATURES = "image_features"
TOKEN_IDS = "token_ids"

# The layout of a model's weights. A `.keras` file's config and a training checkpoint record it; one of another
# format is refused. Format 2: DAN's attention maps are `Dense` sublayers (format 1 held raw `*_kernel` weights).
MODEL_FORMAT = 2


class OlderFormatError(VqaTfError, ValueError):
    """A saved model or checkpoint comes from a vqa_tf version that kept the weights in another layout."""


def check_model_format(found, source):
    """Raises `OlderFormatError` naming `source` unless `found` (a recorded format, or None) is MODEL_FORMAT."""
    if found != MODEL_FORMAT:
        written = "an older vqa_tf that recorded no model format" if found is None else f"model format {found}"
        raise OlderFormatError(
            f"{source} comes from {written}; this vqa_tf reads model format {MODEL_FORMAT}, whose layers keep "
            "their weights differently. Retrain the model, or read it with the vqa_tf version that wrote it."
        )


def grid_text_inputs(grid_height, grid_width, feature_dim):
    """The input contract: region-grid features [B, H, W, C] and token ids [B, T]."""
    return {
        IMAGE_FEATURES: keras.Input(shape=(grid_height, grid_width, feature_dim), name=IMAGE_FEATURES),
        TOKEN_IDS: keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS),
    }


def grid_regions(image_features, dropout=None, dtype=None, normalize=False):
    """Grid features [B, H, W, C] as L = H·W regions [B, L, C], each scaled to unit L2 norm if `normalize`,
    then with the models' feature dropout if given."""
    _, height, width, channels = image_features.shape
    regions = keras.layers.Reshape((height * width, channels), dtype=dtype)(image_features)
    if normalize:
        regions = keras.layers.UnitNormalization(dtype=dtype, name="region_normalization")(regions)
    if dropout is None:
        return regions
    return Dropout(dropout, dtype=dtype, name="feature_dropout")(regions)


def answer_logits(num_answers, kernel_regularizer=None):
    """The answer layer of the VQA models: a `Dense(num_answers)` that computes its logits in float32."""
    return keras.layers.Dense(
        num_answers,
        kernel_regularizer=regularizer_for_weight(kernel_regularizer),
        dtype="float32",
        name="answer_logits",
    )


def stacked_text_attention(word_weights):
    """Per-step word weights [B, T] stacked as `text_attention` [B, steps, T], in float32."""
    return keras.layers.Concatenate(axis=1, dtype="float32", name="text_attention")(
        [keras.layers.Reshape((1, -1), dtype="float32")(weights) for weights in word_weights]
    )


def check_same_batch(image_features, token_ids):
    """Raises if the two inputs disagree on batch size (statically or at run time)."""
    if isinstance(image_features, keras.KerasTensor):
        return
    image_features = tf.convert_to_tensor(image_features)
    token_ids = tf.convert_to_tensor(token_ids)
    message = "image_features and token_ids must have the same batch size"
    image_batch, text_batch = image_features.shape[0], token_ids.shape[0]
    if image_batch is not None and text_batch is not None:
        if image_batch != text_batch:
            raise ValueError(f"{message}; got {image_batch} and {text_batch}.")
        return
    tf.debugging.assert_equal(tf.shape(image_features)[0], tf.shape(token_ids)[0], message=message)


class MultimodalModel(keras.Model):
    """A functional model whose inputs are `{"image_features", "token_ids"}`.

    Subclasses build their graph in `__init__` (KerasHub's backbone form:
    layers, then the functional model, then the config attributes), passing
    `dtype` to every layer, and extend `get_config` with their constructor
    arguments. The config records `dtype` and `MODEL_FORMAT`; `from_config`
    refuses a config of another format. Calls check that both inputs share a
    batch size.
    """

    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

    def call(self, inputs, training=None, mask=None):
        check_same_batch(inputs[IMAGE_FEATURES], inputs[TOKEN_IDS])
        return super().call(inputs, training=training, mask=mask)

    def get_config(self):
        # Not chained to keras.Model: a functional model's config lists its layers, which the
        # constructor rebuilds from these arguments.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "model_format": MODEL_FORMAT,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        check_model_format(config.pop("model_format", None), f"this {cls.__name__} config")
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.get(config["dtype"])
        return cls(**config)


def with_backbone(backbone, model):
    """A model that runs `backbone` on images [B, S, S, 3] in [0, 255] and feeds its grid to `model`.

    Inputs `{"images", "token_ids"}`; outputs those of `model`.

    Examples:
    >>> from vqa_tf.models import SMemVQA
    >>> from vqa_tf.vision import build_backbone
    >>> backbone = build_backbone("small_cnn")
    >>> model = SMemVQA(vocab_size=20, num_answers=2, grid_height=8, grid_width=8,
    ...                 feature_dim=66, embedding_dim=16, max_question_length=6, num_hops=2)
    >>> on_images = with_backbone(backbone, model)
    >>> out = on_images({"images": np.zeros((2, 64, 64, 3), "float32"),
    ...                  "token_ids": np.array([[3, 4, 0], [5, 0, 0]])})
    >>> out["attention"].shape
    TensorShape([2, 2, 8, 8])
    """
    images = keras.Input(backbone.input.shape[1:], name="images")
    token_ids = keras.Input((None,), dtype="int32", name=TOKEN_IDS)
    grid = backbone(images)
    outputs = model({IMAGE_FEATURES: grid, TOKEN_IDS: token_ids})
    return keras.Model({"images": images, TOKEN_IDS: token_ids}, outputs, name=f"{model.name}_on_images")
