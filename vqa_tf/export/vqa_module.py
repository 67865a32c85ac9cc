"""The endpoints of an exported VQA model, one per input type.

* `serving_default(question: string [B], image: string [B])`: encoded JPEG or PNG bytes;
* `serve_features(question: string [B], image_features: float32 [B, H, W, C])`: grids a
  pipeline extracted itself;

both → `answer` string [B], `top_answers` string [B, k], `top_scores` float32
[B, k], `attention` float32 [B, hops, H, W]. Both refuse a call of no rows
or more than `limits.max_batch_rows`, and `serving_default` images over the
decode budget of `limits` (`ServingLimits`, recorded in
`assets/serving_limits.json`), before decoding them. Every endpoint takes one dict of
named tensors, so `keras.layers.TFSMLayer` can call it with a dict and TF
Serving sees the same input names.
"""

import keras
import numpy as np
import tensorflow as tf

from vqa_tf.export.input_checks import LimitsAsset, ServingLimits, checked_text, same_batch
from vqa_tf.vision import load_images


class VQAExportModule:
    """Builds the ExportArchive of a VQA model: tokenizer, answer table, CNN and model in one graph.

    Examples:

        module = VQAExportModule(parts.core, backbone, tokenizer, "runs/smem/answers.txt", image_size=64,
                                 limits=ServingLimits(max_batch_rows=32))
        module.archive().write_out("/tmp/smem/1")
    """

    def __init__(self, core, backbone, tokenizer, answers_path, image_size, top_k=5, limits=ServingLimits()):
        self.core, self.backbone, self.tokenizer, self.image_size = core, backbone, tokenizer, image_size
        self.limits = limits
        self.answers = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                answers_path,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
        )
        self.top_k = min(top_k, int(self.answers.size()))
        self.grid_shape = tuple(core.input["image_features"].shape[1:])

    def _answer(self, question, grid):
        token_ids = self.tokenizer(checked_text(question, "question"))
        out = self.core({"image_features": grid, "token_ids": token_ids}, training=False)
        scores, classes = tf.math.top_k(tf.nn.softmax(out["logits"]), self.top_k)
        top = self.answers.lookup(tf.cast(classes, tf.int64))
        return {
            "answer": top[:, 0],
            "top_answers": top,
            "top_scores": scores,
            "attention": out["attention"],
        }

    def serve_images(self, inputs):
        inputs = self.limits.checked_rows(inputs)
        question, image = same_batch(inputs["question"], inputs["image"], ("question", "image"))
        images = load_images(self.limits.checked_images(image), self.image_size)
        return self._answer(question, self.backbone(images, training=False))

    def serve_features(self, inputs):
        inputs = self.limits.checked_rows(inputs)
        question, grid = same_batch(inputs["question"], inputs["image_features"], ("question", "image_features"))
        return self._answer(question, grid)

    def archive(self):
        archive = keras.export.ExportArchive()
        for resource in (self.core, self.backbone, self.tokenizer, self.answers, LimitsAsset(self.limits)):
            archive.track(resource)
        question = tf.TensorSpec([None], tf.string, name="question")
        image = tf.TensorSpec([None], tf.string, name="image")
        grid = tf.TensorSpec([None, *self.grid_shape], tf.float32, name="image_features")
        archive.add_endpoint("serving_default", self.serve_images, [{"question": question, "image": image}])
        archive.add_endpoint("serve_features", self.serve_features, [{"question": question, "image_features": grid}])
        return archive

    def warmup_requests(self, text, image):
        """One request per endpoint, two rows each, for TF Serving to replay at load."""
        return [
            ("serving_default", {"question": [text, text], "image": [image, image]}),
            (
                "serve_features",
                {"question": [text, text], "image_features": np.zeros((2, *self.grid_shape), np.float32)},
            ),
        ]
