"""r-DAN: Dual Attention Network for VQA (Nam, Ha & Kim, 2017)."""

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
    answer_logits,
    grid_regions,
    grid_text_inputs,
    stacked_text_attention,
)


def _joint_attention_steps(regions, words, word_mask, hidden_dim, num_steps, layer_arguments):
    """(m⁽ᴷ⁾, [α⁽¹⁾ … α⁽ᴷ⁾], [β⁽¹⁾ … β⁽ᴷ⁾]): m⁽⁰⁾ = v⁽⁰⁾ ⊙ u⁽⁰⁾, then m⁽ᵏ⁾ = m⁽ᵏ⁻¹⁾ + v⁽ᵏ⁾ ⊙ u⁽ᵏ⁾, both attentions
    guided by m⁽ᵏ⁻¹⁾. `layer_arguments`: the `kernel_regularizer` and `dtype` every layer takes."""
    dtype = layer_arguments["dtype"]
    visual = VisualAttentionStart(hidden_dim, name="visual_start", **layer_arguments)(regions)
    textual = TextualAttentionStart(dtype=dtype, name="textual_start")(words, word_mask)
    memory = keras.layers.Multiply(dtype=dtype, name="memory_0")([visual, textual])
    visual_weights, textual_weights = [], []
    for step in range(1, num_steps + 1):
        visual, alpha = VisualAttentionStep(hidden_dim, name=f"visual_step_{step}", **layer_arguments)(regions, memory)
        textual, beta = TextualAttentionStep(hidden_dim, name=f"textual_step_{step}", **layer_arguments)(
            words, memory, word_mask
        )
        joint = keras.layers.Multiply(dtype=dtype, name=f"joint_{step}")([visual, textual])
        memory = keras.layers.Add(dtype=dtype, name=f"memory_{step}")([memory, joint])
        visual_weights.append(alpha)
        textual_weights.append(beta)
    return memory, visual_weights, textual_weights


@keras.saving.register_keras_serializable(package="vqa_tf")
class ReasoningDAN(MultimodalModel):
    """r-DAN: visual and textual attention share one joint memory over K steps.

    m⁽⁰⁾ = v⁽⁰⁾ ⊙ u⁽⁰⁾; m⁽ᵏ⁾ = m⁽ᵏ⁻¹⁾ + v⁽ᵏ⁾ ⊙ u⁽ᵏ⁾; logits = W_ans m⁽ᴷ⁾.
    Outputs `logits` [batch, num_answers], `attention` (visual)
    [batch, num_steps, grid_height, grid_width] and `text_attention`
    [batch, num_steps, T].

    Args:
        vocab_size: number of token ids, padding id included.
        num_answers: size of the answer vocabulary.
        grid_height, grid_width, feature_dim: shape of the region grid.
        hidden_dim: d, the size of word, memory and attention vectors.
        num_steps: K, the number of attention steps.
        dropout: dropout on the grid features and before the classifier.
        padding_id: the token id that marks padding.
        kernel_regularizer: regularizer of the word embeddings and of every
            kernel (LSTMs, attention maps, answer layer), or None; training
            sets it from `optimizer.weight_decay`.
        dtype: the dtype policy of the layers (e.g. "mixed_bfloat16");
            attention maps and logits are float32 under every policy.

    The paper's settings are the defaults of `vqa_tf.configs.ReasoningDANConfig`
    and the data settings of the `rdan_resnet152_vqa` experiment.

    Examples:
    >>> model = ReasoningDAN(vocab_size=100, num_answers=10, grid_height=4,
    ...                      grid_width=4, feature_dim=32, hidden_dim=16, num_steps=2)
    >>> out = model({"image_features": np.zeros((2, 4, 4, 32), "float32"),
    ...              "token_ids": np.array([[5, 6, 0], [7, 0, 0]])})
    >>> out["logits"].shape, out["attention"].shape, out["text_attention"].shape
    (TensorShape([2, 10]), TensorShape([2, 2, 4, 4]), TensorShape([2, 2, 3]))
    """

    def __init__(
        self,
        vocab_size,
        num_answers,
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

        # === Functional Model ===
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        regions = grid_regions(inputs[IMAGE_FEATURES], dropout, dtype=dtype)
        words, word_mask = DanTextEncoder(
            vocab_size,
            hidden_dim,
            hidden_dim,
            padding_id,
            kernel_regularizer=kernel_regularizer,
            dtype=dtype,
            name="text_encoder",
        )(inputs[TOKEN_IDS])
        memory, visual_weights, textual_weights = _joint_attention_steps(
            regions, words, word_mask, hidden_dim, num_steps, dict(kernel_regularizer=kernel_regularizer, dtype=dtype)
        )
        memory = Dropout(dropout, dtype=dtype, name="classifier_dropout")(memory)
        outputs = {
            "logits": answer_logits(num_answers, kernel_regularizer)(memory),
            "attention": AttentionMaps(grid_height, grid_width, dtype="float32", name="attention_maps")(visual_weights),
            "text_attention": stacked_text_attention(textual_weights),
        }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.num_answers = num_answers
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
                "num_answers": self.num_answers,
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
