"""tf.data input pipelines over feature stores or raw images, sharded per input context.

Each pipeline yields `(inputs, targets)` batches: `inputs` is the model input
`{"image_features" | "images", "token_ids"}` and `targets` holds what losses
and metrics need (`answer` class ids, `question_id`, `image_id`). `training`
drops the last partial batch; `shuffle` defaults to `training`. Tokenization runs in the
pipeline with the same `QuestionTokenizer` layer an export later puts in the
serving graph.

Under `tf.distribute`, pass the `tf.distribute.InputContext` that
`strategy.distribute_datasets_from_function` hands over: files are split
between input pipelines (records, if there are fewer files than pipelines),
and batches are per replica.
"""

import collections

import numpy as np
import tensorflow as tf

from vqa_tf.data import feature_store
from vqa_tf.data.errors import DataError
from vqa_tf.vision.image_ops import load_image

AUTOTUNE = tf.data.AUTOTUNE


def _per_replica_batch(global_batch_size, input_context):
    if input_context is None:
        return global_batch_size
    return input_context.get_per_replica_batch_size(global_batch_size)


def _shard(dataset, input_context, num_files):
    if input_context is None or input_context.num_input_pipelines == 1:
        return dataset, False
    if num_files >= input_context.num_input_pipelines:
        return dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id), False
    return dataset, True


def _by_image(rows):
    """Groups per-image rows into ragged constants and an image_id → group table."""
    groups = collections.defaultdict(list)
    for image_id, *values in rows:
        groups[image_id].append(values)
    image_ids = sorted(groups)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(image_ids, tf.int64), tf.range(len(image_ids), dtype=tf.int64)),
        default_value=-1,
    )
    columns = list(zip(*[list(zip(*groups[i])) for i in image_ids]))
    return table, [tf.ragged.constant([list(c) for c in column]) for column in columns]


def _finish(dataset, tokenizer, batch_size, shuffle, seed, training, image_key):
    if shuffle:
        dataset = dataset.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=training)

    def to_model_inputs(image, text, targets):
        return {image_key: image, "token_ids": tokenizer(text)}, targets

    return dataset.map(to_model_inputs, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _feature_records(feature_dir, input_context, shuffle, seed):
    metadata = feature_store.read_metadata(feature_dir)
    files = feature_store.complete_shards(feature_dir)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset, shard_records = _shard(dataset, input_context, len(files))
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=AUTOTUNE)
    if shard_records:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return dataset.map(feature_store.parser(metadata), num_parallel_calls=AUTOTUNE)


def vqa_answer_rows(examples, answer_vocabulary):
    """(image_id, question, answer class, question_id) of the examples to feed.

    The target is the most common human answer; questions whose target is
    not in `answer_vocabulary` are left out of training, as in the papers.
    With `answer_vocabulary` None every question is kept, with class −1: for
    prediction, unanswered test questions included.
    """
    rows = []
    for example in examples:
        if answer_vocabulary is None:
            rows.append((example.image_id, example.question, -1, example.question_id))
            continue
        if not example.answers:
            raise DataError(f"question_id {example.question_id} has no answers to train on")
        answer = example.majority_answer
        index = answer_vocabulary.index(answer)
        if index is not None:
            rows.append((example.image_id, example.question, index, example.question_id))
    if not rows:
        raise DataError("no question has an answer in the answer vocabulary")
    return rows


def vqa_feature_dataset(
    feature_dir,
    examples,
    tokenizer,
    answer_vocabulary,
    global_batch_size,
    input_context=None,
    training=True,
    seed=None,
    shuffle=None,
):
    """VQA batches from a feature store: ({"image_features", "token_ids"}, {"answer", "question_id"}).

    Images in the store without questions are skipped, and so are questions
    whose image is not in the store.
    """
    rows = vqa_answer_rows(examples, answer_vocabulary)
    return _feature_text_dataset(
        feature_dir,
        rows,
        ("answer", "question_id"),
        tokenizer,
        global_batch_size,
        input_context,
        training,
        training if shuffle is None else shuffle,
        seed,
    )


def _feature_text_dataset(
    feature_dir, rows, target_names, tokenizer, global_batch_size, input_context, training, shuffle, seed
):
    """Pairs each (image_id, text, *targets) row with its image's features from the store."""
    table, (texts, *targets) = _by_image(rows)
    dataset = _feature_records(feature_dir, input_context, shuffle, seed)
    dataset = dataset.map(lambda r: (r, table.lookup(r["image_id"])))
    dataset = dataset.filter(lambda r, group: group >= 0)

    def per_text(record, group):
        n = tf.shape(texts[group])[0]
        features = tf.repeat(record["image_features"][None], n, axis=0)
        return features, texts[group], {name: column[group] for name, column in zip(target_names, targets)}

    dataset = dataset.map(per_text, num_parallel_calls=AUTOTUNE).unbatch()
    batch = _per_replica_batch(global_batch_size, input_context)
    return _finish(dataset, tokenizer, batch, shuffle, seed, training, "image_features")


def _image_text_dataset(
    paths, texts, targets, tokenizer, image_size, global_batch_size, input_context, training, shuffle, seed
):
    dataset = tf.data.Dataset.from_tensor_slices((paths, texts, targets))
    dataset, _ = _shard(dataset, input_context, len(paths))
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def load(path, text, target):
        return load_image(tf.io.read_file(path), image_size), text, target

    dataset = dataset.map(load, num_parallel_calls=AUTOTUNE)
    batch = _per_replica_batch(global_batch_size, input_context)
    return _finish(dataset, tokenizer, batch, False, seed, training, "images")


def vqa_image_dataset(
    examples,
    tokenizer,
    answer_vocabulary,
    image_size,
    global_batch_size,
    input_context=None,
    training=True,
    seed=None,
    shuffle=None,
):
    """VQA batches straight from image files: ({"images", "token_ids"}, {"answer", "question_id"}).

    `images` are float32 [batch, image_size, image_size, 3] in [0, 255], for
    a model that runs its backbone itself. `shuffle` defaults to `training`.
    """
    path_of = {e.image_id: e.image_path for e in examples}
    rows = vqa_answer_rows(examples, answer_vocabulary)
    targets = {
        "answer": np.array([r[2] for r in rows], np.int64),
        "question_id": np.array([r[3] for r in rows], np.int64),
    }
    return _image_text_dataset(
        [path_of[r[0]] for r in rows],
        [r[1] for r in rows],
        targets,
        tokenizer,
        image_size,
        global_batch_size,
        input_context,
        training,
        training if shuffle is None else shuffle,
        seed,
    )


def caption_image_dataset(
    examples, tokenizer, image_size, global_batch_size, input_context=None, training=True, seed=None, shuffle=None
):
    """Image-caption pairs from image files: ({"images", "token_ids"}, {"image_id"})."""
    pairs = [(e.image_path, caption, e.image_id) for e in examples for caption in e.captions]
    if not pairs:
        raise DataError("no captions to train on")
    targets = {"image_id": np.array([p[2] for p in pairs], np.int64)}
    return _image_text_dataset(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        targets,
        tokenizer,
        image_size,
        global_batch_size,
        input_context,
        training,
        training if shuffle is None else shuffle,
        seed,
    )


def caption_feature_dataset(
    feature_dir, examples, tokenizer, global_batch_size, input_context=None, training=True, seed=None, shuffle=None
):
    """Image-caption pairs from a feature store: ({"image_features", "token_ids"}, {"image_id"}).

    Every caption of an image becomes one pair; in-batch negatives come from
    the other pairs of the batch.
    """
    rows = [(e.image_id, caption, e.image_id) for e in examples for caption in e.captions]
    if not rows:
        raise DataError("no captions to train on")
    return _feature_text_dataset(
        feature_dir,
        rows,
        ("image_id",),
        tokenizer,
        global_batch_size,
        input_context,
        training,
        training if shuffle is None else shuffle,
        seed,
    )


def gallery_image_dataset(examples, image_size, batch_size):
    """Each image of `examples` once, from its file: (image_id [B], images [B, S, S, 3]), in `examples` order."""
    image_ids = np.array([e.image_id for e in examples], np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((image_ids, [e.image_path for e in examples]))
    dataset = dataset.map(
        lambda i, path: (i, load_image(tf.io.read_file(path), image_size)), num_parallel_calls=AUTOTUNE
    )
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def gallery_feature_dataset(feature_dir, image_ids, batch_size):
    """Each of `image_ids` once, from a feature store: (image_id [B], image_features [B, H, W, C]), in store order."""
    wanted = tf.constant(sorted(set(int(i) for i in image_ids)), tf.int64)
    dataset = _feature_records(feature_dir, None, shuffle=False, seed=None)
    dataset = dataset.filter(lambda record: tf.reduce_any(tf.equal(wanted, record["image_id"])))
    dataset = dataset.map(lambda record: (record["image_id"], record["image_features"]))
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def caption_text_dataset(examples, tokenizer, batch_size):
    """Every caption of `examples` once: (image_id [B], token_ids [B, T]), in `examples` order."""
    pairs = [(e.image_id, caption) for e in examples for caption in e.captions]
    if not pairs:
        raise DataError("no captions to embed")
    dataset = tf.data.Dataset.from_tensor_slices((np.array([p[0] for p in pairs], np.int64), [p[1] for p in pairs]))
    return (
        dataset.batch(batch_size)
        .map(lambda i, text: (i, tokenizer(text)), num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
    )
