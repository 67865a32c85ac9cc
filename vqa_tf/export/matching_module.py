"""The endpoints of an exported m-DAN.

* `embed_image(image: string [B])` → `embedding` float32 [B, D];
* `embed_text(caption: string [B])` → `embedding` float32 [B, D];
* `serving_default(image, caption)` → `score` float32 [B], the dot product of the two embeddings.

Each refuses a call of no rows or more than `limits.max_batch_rows`, and
images over the decode budget of `limits` (`ServingLimits`, recorded in
`assets/serving_limits.json`), before decoding them.
"""

import keras
import tensorflow as tf

from vqa_tf.export.input_checks import LimitsAsset, ServingLimits, checked_text, same_batch
from vqa_tf.vision import load_images


class MatchingExportModule:
    """Builds the ExportArchive of an m-DAN: a gallery is embedded once, queries score against it.

    Examples:

        module = MatchingExportModule(parts.core, backbone, tokenizer, image_size=64,
                                      limits=ServingLimits(max_batch_rows=32))
        module.archive().write_out("/tmp/mdan/1")
    """

    def __init__(self, core, backbone, tokenizer, image_size, limits=ServingLimits()):
        self.core, self.backbone, self.tokenizer, self.image_size = core, backbone, tokenizer, image_size
        self.limits = limits

    def embed_image(self, image):
        images = load_images(self.limits.checked_images(image), self.image_size)
        return self.core.embed_image(self.backbone(images, training=False))

    def embed_text(self, caption):
        return self.core.embed_text(self.tokenizer(checked_text(caption, "caption")))

    def score(self, inputs):
        inputs = self.limits.checked_rows(inputs)
        image, caption = same_batch(inputs["image"], inputs["caption"], ("image", "caption"))
        return {"score": tf.reduce_sum(self.embed_image(image) * self.embed_text(caption), axis=-1)}

    def serve_embed_image(self, inputs):
        return {"embedding": self.embed_image(self.limits.checked_rows(inputs)["image"])}

    def serve_embed_text(self, inputs):
        return {"embedding": self.embed_text(self.limits.checked_rows(inputs)["caption"])}

    def archive(self):
        archive = keras.export.ExportArchive()
        for resource in (self.core, self.backbone, self.tokenizer, LimitsAsset(self.limits)):
            archive.track(resource)
        image = tf.TensorSpec([None], tf.string, name="image")
        caption = tf.TensorSpec([None], tf.string, name="caption")
        archive.add_endpoint("serving_default", self.score, [{"image": image, "caption": caption}])
        archive.add_endpoint("embed_image", self.serve_embed_image, [{"image": image}])
        archive.add_endpoint("embed_text", self.serve_embed_text, [{"caption": caption}])
        return archive

    def warmup_requests(self, text, image):
        """One request per endpoint, two rows each, for TF Serving to replay at load."""
        return [
            ("serving_default", {"image": [image, image], "caption": [text, text]}),
            ("embed_image", {"image": [image, image]}),
            ("embed_text", {"caption": [text, text]}),
        ]
