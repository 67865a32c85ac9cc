"""Exports a training model_dir as `<export_base>/<version>/`, a SavedModel TF Serving runs as is.

Export reads only what training leaves in the model_dir (config.json, the
vocabularies, the latest checkpoint), never the training data, so a
model_dir copied to another machine exports the same model. Tokenization
(TF Text), vocabulary lookup (tables over the vocabulary files, which become
`assets/`), image decoding, resizing and the CNN all run in the graph; the
op check refuses ops TF Serving lacks. A version is written beside its
final place, fsynced and moved into it (`atomic_path`), so a server polling
the base path never sees half a model, and an existing version is never
overwritten; concurrent exporters claim distinct numbers (`version_claim`).
`assets.extra/tf_serving_warmup_requests` holds one request per endpoint.
"""

import math
import posixpath

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from vqa_tf.export.input_checks import ServingLimits
from vqa_tf.export.matching_module import MatchingExportModule
from vqa_tf.export.op_check import check_servable
from vqa_tf.export.version_claim import claimed_version
from vqa_tf.export.vqa_module import VQAExportModule
from vqa_tf.text import QuestionTokenizer, Vocabulary
from vqa_tf.training import model_dir as files
from vqa_tf.training.model_dir import restore_model
from vqa_tf.utils.files import atomic_path
from vqa_tf.utils.saved_models import WARMUP_FILE
from vqa_tf.vision import build_backbone


def serving_backbone(config, parts, model_dir, backbone_weights=None):
    """The CNN of the serving graph: the one trained with the model, or the CNN that extracted its features.

    A run on stored features has no CNN in its checkpoint; the serving graph
    then needs the weights file the extraction used (`backbone_weights`, else
    data.backbone_weights, else the backbone the run pretrained in `model_dir`),
    since a randomly initialised CNN would compute other features than the
    model learned from.
    """
    data = config.data
    if parts.backbone is not None:
        if backbone_weights:
            raise ValueError(
                "backbone weights are for runs trained on stored features; this run trained its CNN, "
                "and its checkpoint holds the CNN's weights"
            )
        return parts.backbone
    weights = backbone_weights or files.backbone_weights(config, model_dir)
    if not weights:
        raise ValueError(
            f"the run trained on stored {data.backbone} features; the serving graph needs the weights file the "
            f"feature extraction used (give --backbone_weights, or set data.backbone_weights)"
        )
    return build_backbone(data.backbone, data.image_size, weights)


def warmup_inputs(vocabulary, image_size):
    """(a question of the vocabulary's first words, a grey PNG of `image_size`²) for warm-up requests."""
    words = vocabulary.tokens[2:6] or ["what"]  # after [PAD] and [UNK]
    image = tf.io.encode_png(tf.fill([image_size, image_size, 3], tf.constant(128, tf.uint8))).numpy()
    return " ".join(words), image


def export_module(model_dir, top_k=5, backbone_weights=None, limits=ServingLimits()):
    """The export module (VQAExportModule or MatchingExportModule) of the latest checkpoint of `model_dir`.

    Its signatures enforce `limits` (a `ServingLimits`) and record them in `assets/serving_limits.json`.
    """
    config, parts, _ = restore_model(model_dir)
    if config.data.baseline:
        raise ValueError(
            f"{model_dir} holds a blind baseline (data.baseline={config.data.baseline}), trained for "
            "comparison on blinded inputs; it is not exported"
        )
    backbone = serving_backbone(config, parts, model_dir, backbone_weights)
    tokenizer = QuestionTokenizer(files.path(model_dir, files.VOCABULARY_FILE), config.data.max_question_length)
    if config.task == "vqa":
        answers = files.path(model_dir, files.ANSWERS_FILE)
        return VQAExportModule(parts.core, backbone, tokenizer, answers, config.data.image_size, top_k, limits)
    return MatchingExportModule(parts.core, backbone, tokenizer, config.data.image_size, limits)


def write_warmup_requests(export_dir, requests):
    """`assets.extra/tf_serving_warmup_requests`: PredictionLogs TF Serving replays when it loads the model.

    `requests` is a list of (signature name, {input name: value}).
    """
    path = posixpath.join(export_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(posixpath.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def export(
    model_dir,
    export_base,
    version=None,
    top_k=5,
    backbone_weights=None,
    limits=ServingLimits(),
):
    """Exports the latest checkpoint of `model_dir` to `<export_base>/<version>`; returns that path.

    The signatures refuse a call over `limits` (a `ServingLimits`: rows, pixels
    per image, and the call's decode budget) and record them in
    `assets/serving_limits.json`.

    Examples:

        export("runs/smem", "runs/smem/exports")            # → "runs/smem/exports/1", then /2, …
        export("gs://bucket/runs/rdan", "gs://bucket/serving/rdan",
               backbone_weights="gs://bucket/resnet152_notop.h5")   # a run on stored features
        export("runs/smem", "runs/smem/exports", limits=ServingLimits(max_batch_rows=32, max_image_pixels=1 << 20))
    """
    module = export_module(model_dir, top_k, backbone_weights, limits)
    vocabulary = Vocabulary.load(files.path(model_dir, files.VOCABULARY_FILE))
    # Warm-up requests the graph's own limits accept, or a server would fail to load the version.
    # Two rows each: within the pixels of one image and half the call's budget.
    side = math.isqrt(min(limits.max_image_pixels, limits.max_request_pixels // 2))
    text, image = warmup_inputs(vocabulary, max(1, min(module.image_size, side)))
    warmup = [
        (name, {key: value[: limits.max_batch_rows] for key, value in inputs.items()})
        for name, inputs in module.warmup_requests(text, image)
    ]
    with claimed_version(export_base, version) as version:
        target = posixpath.join(export_base, str(version))
        with atomic_path(target, overwrite=False) as temporary:
            module.archive().write_out(temporary, verbose=False)
            check_servable(temporary)
            write_warmup_requests(temporary, warmup)
    return target
