"""Base class of every vqa_tf model: a functional Keras model over a region grid and token ids."""

import inspect

import keras
import tensorflow as tf

IMAGE_FEATURES = "image_features"
TOKEN_IDS = "token_ids"


def grid_text_inputs(grid_height, grid_width, feature_dim):
    """The input contract: region-grid features [B, H, W, C] and token ids [B, T]."""
    return {
        IMAGE_FEATURES: keras.Input(shape=(grid_height, grid_width, feature_dim), name=IMAGE_FEATURES),
        TOKEN_IDS: keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS),
    }


def grid_regions(image_features, dropout=None):
    """Grid features [B, H, W, C] as L = H·W regions [B, L, C], with the models' feature dropout if given."""
    _, height, width, channels = image_features.shape
    regions = keras.layers.Reshape((height * width, channels))(image_features)
    if dropout is None:
        return regions
    return keras.layers.Dropout(dropout, name="feature_dropout")(regions)


def stacked_text_attention(word_weights):
    """Per-step word weights [B, T] stacked as `text_attention` [B, steps, T]."""
    return keras.layers.Concatenate(axis=1, name="text_attention")(
        [keras.layers.Reshape((1, -1))(weights) for weights in word_weights]
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

    Subclasses build their graph in `__init__` (the KerasHub backbone
    pattern), then call `keep_arguments(locals())`: every constructor
    argument becomes an attribute and part of `get_config`, so
    `from_config` rebuilds the same graph. Calls check that both inputs
    share a batch size.
    """

    def call(self, inputs, training=None, mask=None):
        check_same_batch(inputs[IMAGE_FEATURES], inputs[TOKEN_IDS])
        return super().call(inputs, training=training, mask=mask)

    def keep_arguments(self, values):
        """Keeps each argument of the subclass's constructor, read from `values` (its `locals()`)."""
        names = [name for name in inspect.signature(type(self).__init__).parameters if name not in ("self", "kwargs")]
        self.arguments = {name: values[name] for name in names}
        for name, value in self.arguments.items():
            setattr(self, name, value)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.arguments}

    @classmethod
    def from_config(cls, config):
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
