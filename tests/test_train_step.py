"""The training step: one all-reduce of the gradient, clipped by its global norm, applied once."""

import numpy as np
import pytest
import tensorflow as tf

from vqa_tf.configs import (
    DataConfig,
    ExperimentConfig,
    OptimizerConfig,
    ReasoningDANConfig,
    RuntimeConfig,
    SMemVQAConfig,
)
from vqa_tf.models import build_model, model_arguments
from vqa_tf.text import Vocabulary
from vqa_tf.training import build_model_parts, make_train_step
from vqa_tf.training.distribution import make_strategy
from vqa_tf.training.optimization import build_optimizer

BATCH, CLIP, LEARNING_RATE = 4, 0.05, 0.5


def _setup(clip, loss_weight=1.0):
    config = ExperimentConfig(
        task="vqa",
        model=SMemVQAConfig(embedding_dim=8, num_hops=2, dropout=0.0),
        data=DataConfig(global_batch_size=BATCH),
        optimizer=OptimizerConfig(
            name="sgd", momentum=0.0, learning_rate=LEARNING_RATE, clip_norm=clip, loss_weight=loss_weight
        ),
    )
    arguments = model_arguments(
        config.model, vocab_size=12, num_answers=5, grid_height=2, grid_width=3, feature_dim=4, max_question_length=6
    )
    rng = np.random.default_rng(0)
    inputs = {
        "image_features": rng.standard_normal((BATCH, 2, 3, 4)).astype(np.float32),
        "token_ids": rng.integers(1, 12, (BATCH, 6)).astype(np.int32),
    }
    targets = {"answer": rng.integers(0, 5, BATCH).astype(np.int32)}
    return config, arguments, inputs, targets


@pytest.mark.parametrize("clip, loss_weight", [(CLIP, 1.0), (0.0, 1.0), (CLIP, 20.0)])
def test_one_step_all_reduces_once_and_applies_the_clipped_gradient(monkeypatch, clip, loss_weight):
    """The loss, scaled by loss_weight (Caffe's, before the clip), and its update."""
    config, arguments, inputs, targets = _setup(clip, loss_weight)
    strategy = make_strategy(RuntimeConfig(strategy="one_device"))
    with strategy.scope():
        model = build_model("smem_vqa", **arguments)
        optimizer = build_optimizer(config.optimizer, steps_per_epoch=10)
        optimizer.build(model.trainable_variables)
    before = [v.numpy() for v in model.trainable_variables]

    # The expected update, written out: SGD on the batch-mean cross-entropy times loss_weight, clipped to CLIP
    # (if clipping).
    with tf.GradientTape() as tape:
        logits = model(inputs, training=True)["logits"]
        value = loss_weight * tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets["answer"], logits))
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, model.trainable_variables)]
    norm = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    assert norm > CLIP, "the clip must bind for this test to check it"
    scale = CLIP / norm if clip else 1.0
    expected = [w - LEARNING_RATE * g * scale for w, g in zip(before, grads)]

    calls = []
    all_reduce = tf.distribute.ReplicaContext.all_reduce
    monkeypatch.setattr(
        tf.distribute.ReplicaContext,
        "all_reduce",
        lambda self, *args, **kwargs: calls.append(1) or all_reduce(self, *args, **kwargs),
    )
    steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=False)
    dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
    loss = steps(iter(strategy.distribute_datasets_from_function(lambda context: dataset)), 1)

    assert len(calls) == 1, f"the step all-reduced the gradient {len(calls)} times"
    np.testing.assert_allclose(loss, float(value), rtol=1e-5)
    for got, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)


def test_steps_grouped_into_calls_make_the_same_updates():
    """Six steps in one graph call, or in calls of two, end with the same weights and summed loss."""
    config, arguments, inputs, targets = _setup(CLIP)
    strategy = make_strategy(RuntimeConfig(strategy="one_device"))
    # a different batch each step, so that the order of the updates matters
    rng = np.random.default_rng(1)
    batches = [
        ({**inputs, "image_features": rng.standard_normal(inputs["image_features"].shape).astype(np.float32)}, targets)
        for _ in range(8)
    ]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=tf.nest.map_structure(lambda x: tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)), batches[0]),
    )
    weights, losses, start = [], [], None
    for calls in ([6], [2, 2, 2]):
        with strategy.scope():
            model = build_model("smem_vqa", **arguments)
            optimizer = build_optimizer(config.optimizer, steps_per_epoch=10)
            optimizer.build(model.trainable_variables)
        if start is None:
            start = model.get_weights()
        else:  # the same initial weights
            model.set_weights(start)
        steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=False)
        iterator = iter(strategy.distribute_datasets_from_function(lambda context: dataset))
        losses.append(sum(steps(iterator, count) for count in calls))
        weights.append(model.get_weights())
    for grouped, whole in zip(weights[1], weights[0]):
        np.testing.assert_allclose(grouped, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)


# The weights weight decay applies to, by the package's rule: every kernel (recurrent and attention-scoring ones
# included) and word embedding; never a bias, a region's position code or a question position weight.
DECAYED = ("/kernel", "/recurrent_kernel", "/embeddings", "/score_vector")


@pytest.mark.parametrize(
    "model_config", [SMemVQAConfig(embedding_dim=8, dropout=0.0), ReasoningDANConfig(hidden_dim=8, dropout=0.0)]
)
def test_weight_decay_adds_its_rate_times_each_kernel_and_embedding_to_the_gradient(model_config):
    weight_decay = 0.3
    config = ExperimentConfig(
        task="vqa",
        model=model_config,
        data=DataConfig(input="features", global_batch_size=BATCH, max_question_length=6),
        optimizer=OptimizerConfig(
            name="sgd", momentum=0.0, learning_rate=LEARNING_RATE, clip_norm=0.0, weight_decay=weight_decay
        ),
    )
    strategy = make_strategy(RuntimeConfig(strategy="one_device"))
    with strategy.scope():
        vocabulary = Vocabulary.build([[f"word{i}" for i in range(10)]])
        model = build_model_parts(config, vocabulary, num_answers=5).model
        optimizer = build_optimizer(config.optimizer, steps_per_epoch=10)
        optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    inputs = {
        "image_features": rng.standard_normal((BATCH, *model.input["image_features"].shape[1:])).astype(np.float32),
        "token_ids": rng.integers(1, 12, (BATCH, 6)).astype(np.int32),
    }
    targets = {"answer": rng.integers(0, 5, BATCH).astype(np.int32)}
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        logits = model(inputs, training=True)["logits"]
        value = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets["answer"], logits))
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, model.trainable_variables)]
    decayed = [v.path.endswith(DECAYED) for v in model.trainable_variables]
    assert any(decayed) and not all(decayed)
    expected = [w - LEARNING_RATE * (g + (weight_decay * w if d else 0.0)) for w, g, d in zip(before, grads, decayed)]

    steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=False)
    dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
    loss = steps(iter(strategy.distribute_datasets_from_function(lambda context: dataset)), 1)

    penalty = 0.5 * weight_decay * sum(float(np.sum(w**2)) for w, d in zip(before, decayed) if d)
    np.testing.assert_allclose(loss, float(value) + penalty, rtol=1e-5)
    for variable, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-4, atol=1e-6, err_msg=variable.path)
