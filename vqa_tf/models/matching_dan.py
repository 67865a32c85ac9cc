"""m-DAN: Dual Attention Network for image-text matching (Nam, Ha & Kim, 2017)."""

import keras

from vqa_tf.layers import (
    AttentionMaps,
    DanTextEncoder,
    Dropout,
    TextualAttentionStart,
    TextualAttentionStep,
    VisualAttentionStart,
    VisualAttentionStep,
)
from vqa_tf.layers.weight_arguments import serialize_argument
from vqa_tf.models.multimodal_model import (
    IMAGE_FEATURES,
    TOKEN_IDS,
    MultimodalModel,
    grid_regions,
    grid_text_inputs,
    stacked_text_attention,
)


def _image_encoder(image_features, hidden_dim, num_steps, dropout, attention_arguments):
    """The image side: `{"embedding": z_v, "attention": [B, K, H, W]}` of grid features."""
    _, grid_height, grid_width, _ = image_features.shape
    dtype = attention_arguments["dtype"]
    regions = grid_regions(image_features, dropout, dtype=dtype)
    visual = VisualAttentionStart(hidden_dim, name="visual_start", **attention_arguments)(regions)
    visual_contexts, visual_weights = [visual], []
    memory = visual
    for step in range(1, num_steps + 1):
        visual, alpha = VisualAttentionStep(hidden_dim, name=f"visual_step_{step}", **attention_arguments)(
            regions, memory
        )
        memory = keras.layers.Add(dtype=dtype, name=f"visual_memory_{step}")([memory, visual])
        visual_contexts.append(visual)
        visual_weights.append(alpha)
    return keras.Model(
        image_features,
        {
            "embedding": keras.layers.Concatenate(dtype="float32", name="image_embedding")(visual_contexts),
            "attention": AttentionMaps(grid_height, grid_width, dtype="float32", name="attention_maps")(visual_weights),
        },
        name="image_encoder",
    )


def _text_encoder(token_ids, vocab_size, hidden_dim, num_steps, dropout, padding_id, attention_arguments):
    """The text side: `{"embedding": z_u, "attention": [B, K, T]}` of token ids."""
    dtype = attention_arguments["dtype"]
    words, word_mask = DanTextEncoder(
        vocab_size, hidden_dim, hidden_dim, padding_id, name="text_encoder", **attention_arguments
    )(token_ids)
    words = Dropout(dropout, dtype=dtype, name="word_dropout")(words)
    textual = TextualAttentionStart(dtype=dtype, name="textual_start")(words, word_mask)
    textual_contexts, textual_weights = [textual], []
    memory = textual
    for step in range(1, num_steps + 1):
        textual, beta = TextualAttentionStep(hidden_dim, name=f"textual_step_{step}", **attention_arguments)(
            words, memory, word_mask
        )
        memory = keras.layers.Add(dtype=dtype, name=f"textual_memory_{step}")([memory, textual])
        textual_contexts.append(textual)
        textual_weights.append(beta)
    return keras.Model(
        token_ids,
        {
            "embedding": keras.layers.Concatenate(dtype="float32", name="text_embedding")(textual_contexts),
            "attention": stacked_text_attention(textual_weights),
        },
        name="text_encoder_model",
    )


@keras.saving.register_keras_serializable(package="vqa_tf")
class MatchingDAN(MultimodalModel):
    """m-DAN: a dual encoder whose image and text sides each attend K steps.

    Each side keeps its own memory (m_v⁽ᵏ⁾ = m_v⁽ᵏ⁻¹⁾ + v⁽ᵏ⁾, likewise for
    text) and the pair score is S = Σ_k v⁽ᵏ⁾·u⁽ᵏ⁾ = z_v·z_u with
    z_v = [v⁽⁰⁾;…;v⁽ᴷ⁾] and z_u = [u⁽⁰⁾;…;u⁽ᴷ⁾], so a gallery can be embedded
    once. `embed_image`, `embed_text` and `score` are separate callables; the
    model itself maps a batch of pairs to `score` [batch], both embeddings
    [batch, (K+1)·hidden_dim], `attention` [batch, K, H, W] and
    `text_attention` [batch, K, T].

    Args:
        vocab_size: number of token ids, padding id included.
        grid_height, grid_width, feature_dim: shape of the region grid.
        hidden_dim: d, the size of word, memory and attention vectors.
        num_steps: K, the number of attention steps.
        dropout: dropout on the grid features and the encoded words.
        padding_id: the token id that marks padding.
        kernel_regularizer: regularizer of the word embeddings and of every
            kernel (LSTMs, attention maps), or None; training sets it from
            `optimizer.weight_decay`.
        dtype: the dtype policy of the layers (e.g. "mixed_bfloat16");
            embeddings, scores and attention maps are float32 under every
            policy.

    The paper's settings are the defaults of `vqa_tf.configs.MatchingDANConfig`
    and the data settings of the `mdan_resnet152_flickr30k` experiment.

    Examples:
    >>> model = MatchingDAN(vocab_size=100, grid_height=4, grid_width=4,
    ...                     feature_dim=32, hidden_dim=16, num_steps=2)
    >>> images = np.random.rand(3, 4, 4, 32).astype("float32")
    >>> captions = np.array([[5, 6, 0], [7, 0, 0], [8, 9, 4]])
    >>> model.embed_image(images).shape, model.embed_text(captions).shape
    (TensorShape([3, 48]), TensorShape([3, 48]))
    >>> model.score(images, captions).shape
    TensorShape([3])
    """

    def __init__(
        self,
        vocab_size,
        grid_height,
        grid_width,
        feature_dim,
        hidden_dim,
        num_steps,
        dropout=0.0,
        padding_id=0,
        kernel_regularizer=None,
        dtype=None,
        **kwargs,
    ):
        if num_steps < 1:
            raise ValueError(f"num_steps must be at least 1; got {num_steps}.")
        attention_arguments = dict(kernel_regularizer=kernel_regularizer, dtype=dtype)

        # === Functional Model ===
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        image_encoder = _image_encoder(inputs[IMAGE_FEATURES], hidden_dim, num_steps, dropout, attention_arguments)
        text_encoder = _text_encoder(
            inputs[TOKEN_IDS], vocab_size, hidden_dim, num_steps, dropout, padding_id, attention_arguments
        )
        image_side = image_encoder(inputs[IMAGE_FEATURES])
        text_side = text_encoder(inputs[TOKEN_IDS])
        score = keras.layers.Dot(axes=-1, dtype="float32", name="pair_score")(
            [image_side["embedding"], text_side["embedding"]]
        )
        outputs = {
            "score": keras.layers.Reshape((), dtype="float32", name="score")(score),
            "image_embedding": image_side["embedding"],
            "text_embedding": text_side["embedding"],
            "attention": image_side["attention"],
            "text_attention": text_side["attention"],
        }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.vocab_size = vocab_size
        self.grid_height = grid_height
        self.grid_width = grid_width
        self.feature_dim = feature_dim
        self.hidden_dim = hidden_dim
        self.num_steps = num_steps
        self.dropout = dropout
        self.padding_id = padding_id
        self.kernel_regularizer = kernel_regularizer

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "grid_height": self.grid_height,
                "grid_width": self.grid_width,
                "feature_dim": self.feature_dim,
                "hidden_dim": self.hidden_dim,
                "num_steps": self.num_steps,
                "dropout": self.dropout,
                "padding_id": self.padding_id,
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config

    def embed_image(self, image_features, training=False):
        """z_v [batch, (K+1)·hidden_dim] for region-grid features [batch, H, W, C]."""
        return self.image_encoder(image_features, training=training)["embedding"]

    def embed_text(self, token_ids, training=False):
        """z_u [batch, (K+1)·hidden_dim] for token ids [batch, T]."""
        return self.text_encoder(token_ids, training=training)["embedding"]

    def score(self, image_features, token_ids, training=False):
        """S = z_v·z_u [batch] for aligned image/text pairs."""
        return self({IMAGE_FEATURES: image_features, TOKEN_IDS: token_ids}, training=training)["score"]
