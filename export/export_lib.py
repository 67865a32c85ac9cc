"""Builds versioned SavedModels whose signatures take raw strings and encoded images.

Signatures (DESIGN.md §4.2):

* VQA models — `serving_default(question: string [B], image: string [B])` →
  `answer` string [B], `top_answers` string [B, k], `top_scores` float32
  [B, k], `attention` float32 [B, hops, H, W]; and `serve_features(question,
  image_features: float32 [B, H, W, C])` with the same outputs.
* m-DAN — `embed_image(image)` → `embedding` [B, D]; `embed_text(caption)` →
  `embedding` [B, D]; `serving_default(image, caption)` → `score` [B].

Every endpoint takes one dict of named tensors, so `keras.layers.TFSMLayer`
can call it with a dict and TF Serving sees the same input names.
Tokenization (TF Text), vocabulary lookup (tables over the vocabulary files,
which become `assets/`), image decoding, resizing and the CNN all run in the
graph. A version is written beside its final place and renamed into it, so
a server polling the base path never sees half a model, and an existing
version is never overwritten.
"""

import os
import shutil

import keras
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from export.op_check import check_servable
from trainers import train_lib
from trainers.tasks import ANSWERS_FILE
from vqa_tf.configs import load_config
from vqa_tf.vision import build_backbone, load_images

MAX_QUESTION_CHARS = 1000
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def _check_text(text, name):
    """Graph checks of a string batch: not over-long, valid UTF-8 (tokenization rejects empty ones)."""
    too_long = tf.debugging.assert_less_equal(
        tf.strings.length(text), MAX_QUESTION_CHARS,
        message=f"a {name} is longer than {MAX_QUESTION_CHARS} characters",
    )
    with tf.control_dependencies([too_long]):
        cleaned = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
    # Assert with the message alone: echoing the invalid bytes would break the error message itself.
    valid = tf.debugging.Assert(tf.reduce_all(tf.equal(cleaned, text)), [f"a {name} is not valid UTF-8"])
    with tf.control_dependencies([valid]):
        return tf.identity(text)


def _check_batches(a, b, names):
    same = tf.debugging.assert_equal(
        tf.shape(a)[0], tf.shape(b)[0], message=f"{names[0]} and {names[1]} must have the same batch size"
    )
    with tf.control_dependencies([same]):
        return tf.identity(a), tf.identity(b)


def _answer_table(model_dir):
    return tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            os.path.join(model_dir, ANSWERS_FILE),
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )


def _image_backbone(task):
    """The CNN of the serving graph: the trained one, or the extraction CNN of a feature-store run."""
    if task.backbone is not None:
        return task.backbone
    data = task.config.data
    return build_backbone(data.backbone, data.image_size, data.backbone_weights or None)


def vqa_archive(task, model_dir, top_k=5):
    """An ExportArchive with `serving_default` (strings + image bytes) and `serve_features`."""
    core, tokenizer, backbone = task.core, task.tokenizer, _image_backbone(task)
    answers = _answer_table(model_dir)
    image_size = task.config.data.image_size
    k = min(top_k, len(task.answers))
    height, width, channels = task.grid_shape

    def answer(question, grid):
        token_ids = tokenizer(_check_text(question, "question"))
        out = core({"image_features": grid, "token_ids": token_ids}, training=False)
        scores, classes = tf.math.top_k(tf.nn.softmax(tf.cast(out["logits"], tf.float32)), k)
        top = answers.lookup(tf.cast(classes, tf.int64))
        return {
            "answer": top[:, 0],
            "top_answers": top,
            "top_scores": scores,
            "attention": tf.cast(out["attention"], tf.float32),
        }

    def serve(inputs):
        question, image = _check_batches(inputs["question"], inputs["image"], ("question", "image"))
        return answer(question, backbone(load_images(image, image_size), training=False))

    def serve_features(inputs):
        question, grid = _check_batches(inputs["question"], inputs["image_features"], ("question", "image_features"))
        return answer(question, grid)

    archive = keras.export.ExportArchive()
    for resource in (core, backbone, tokenizer, answers):
        archive.track(resource)
    question = tf.TensorSpec([None], tf.string, name="question")
    image = tf.TensorSpec([None], tf.string, name="image")
    grid = tf.TensorSpec([None, height, width, channels], tf.float32, name="image_features")
    archive.add_endpoint("serving_default", serve, [{"question": question, "image": image}])
    archive.add_endpoint("serve_features", serve_features, [{"question": question, "image_features": grid}])
    return archive


def matching_archive(task):
    """An ExportArchive with `embed_image`, `embed_text` and pair-scoring `serving_default`."""
    core, tokenizer, backbone = task.core, task.tokenizer, _image_backbone(task)
    image_size = task.config.data.image_size

    def image_embedding(image):
        return core.embed_image(backbone(load_images(image, image_size), training=False))

    def text_embedding(caption):
        return core.embed_text(tokenizer(_check_text(caption, "caption")))

    def score(inputs):
        image, caption = _check_batches(inputs["image"], inputs["caption"], ("image", "caption"))
        return {"score": tf.reduce_sum(image_embedding(image) * text_embedding(caption), axis=-1)}

    archive = keras.export.ExportArchive()
    for resource in (core, backbone, tokenizer):
        archive.track(resource)
    image = tf.TensorSpec([None], tf.string, name="image")
    caption = tf.TensorSpec([None], tf.string, name="caption")
    archive.add_endpoint("serving_default", score, [{"image": image, "caption": caption}])
    archive.add_endpoint("embed_image", lambda inputs: {"embedding": image_embedding(inputs["image"])},
                         [{"image": image}])
    archive.add_endpoint("embed_text", lambda inputs: {"embedding": text_embedding(inputs["caption"])},
                         [{"caption": caption}])
    return archive


def write_warmup_requests(export_dir, requests):
    """`assets.extra/tf_serving_warmup_requests`: PredictionLogs TF Serving replays when it loads the model.

    `requests` is a list of (signature name, {input name: tf.Tensor}).
    """
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def _warmup_requests(task, count=2):
    if task.config.task == "vqa":
        examples = task.eval_examples[:count]
        images = [tf.io.read_file(e.image_path).numpy() for e in examples]
        return [("serving_default", {"question": [e.question for e in examples], "image": images})]
    examples = task.eval_examples[:count]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    captions = [e.captions[0] for e in examples]
    return [
        ("serving_default", {"image": images, "caption": captions}),
        ("embed_image", {"image": images}),
        ("embed_text", {"caption": captions}),
    ]


def next_version(export_base):
    versions = [int(n) for n in os.listdir(export_base) if n.isdigit()] if os.path.isdir(export_base) else []
    return max(versions, default=0) + 1


def export(model_dir, export_base, version=None, top_k=5):
    """Exports the latest checkpoint of `model_dir` to `<export_base>/<version>`; returns that path."""
    config = load_config(model_dir)
    task, _, _ = train_lib.restore_latest(config, model_dir)
    version = version or next_version(export_base)
    target = os.path.join(export_base, str(version))
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists; versions are never overwritten (pick another --version)")
    archive = vqa_archive(task, model_dir, top_k) if config.task == "vqa" else matching_archive(task)
    os.makedirs(export_base, exist_ok=True)
    temporary = os.path.join(export_base, f".tmp-{version}-{os.getpid()}")
    try:
        archive.write_out(temporary, verbose=False)
        check_servable(temporary)
        write_warmup_requests(temporary, _warmup_requests(task))
        os.rename(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target
