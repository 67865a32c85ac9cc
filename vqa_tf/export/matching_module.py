"""The endpoints of an exported m-DAN (DESIGN.md §4.2).

* `embed_image(image: string [B])` → `embedding` float32 [B, D];
* `embed_text(caption: string [B])` → `embedding` float32 [B, D];
* `serving_default(image, caption)` → `score` float32 [B], the dot product of the two embeddings.
"""

import keras
import tensorflow as tf

from vqa_tf.export.input_checks import checked_text, same_batch
from vqa_tf.vision import load_images


class MatchingExportModule:
    """Builds the ExportArchive of an m-DAN: a gallery is embedded once, queries score against it.

    Example:

        module = MatchingExportModule(parts.core, backbone, tokenizer, image_size=64)
        module.archive().write_out("/tmp/mdan/1")
    """

    def __init__(self, core, backbone, tokenizer, image_size):
        self.core, self.backbone, self.tokenizer, self.image_size = core, backbone, tokenizer, image_size

    def embed_image(self, image):
        return self.core.embed_image(self.backbone(load_images(image, self.image_size), training=False))

    def embed_text(self, caption):
        return self.core.embed_text(self.tokenizer(checked_text(caption, "caption")))

    def score(self, inputs):
        image, caption = same_batch(inputs["image"], inputs["caption"], ("image", "caption"))
        return {"score": tf.reduce_sum(self.embed_image(image) * self.embed_text(caption), axis=-1)}

    def archive(self):
        archive = keras.export.ExportArchive()
        for resource in (self.core, self.backbone, self.tokenizer):
            archive.track(resource)
        image = tf.TensorSpec([None], tf.string, name="image")
        caption = tf.TensorSpec([None], tf.string, name="caption")
        archive.add_endpoint("serving_default", self.score, [{"image": image, "caption": caption}])
        archive.add_endpoint("embed_image", lambda inputs: {"embedding": self.embed_image(inputs["image"])},
                             [{"image": image}])
        archive.add_endpoint("embed_text", lambda inputs: {"embedding": self.embed_text(inputs["caption"])},
                             [{"caption": caption}])
        return archive

    def warmup_requests(self, text, image):
        """One request per endpoint, two rows each, for TF Serving to replay at load."""
        return [
            ("serving_default", {"image": [image, image], "caption": [text, text]}),
            ("embed_image", {"image": [image, image]}),
            ("embed_text", {"caption": [text, text]}),
        ]
