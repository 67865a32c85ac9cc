"""The matching task: image-caption retrieval with the bidirectional ranking loss, scored by recall."""

import functools

import numpy as np
import tensorflow as tf

from vqa_tf.data import pipelines
from vqa_tf.data.caption_reader import read_karpathy_json
from vqa_tf.data.errors import DataError
from vqa_tf.data.synthetic_files import captions_path, write_synthetic_captions
from vqa_tf.losses import bidirectional_ranking_loss
from vqa_tf.metrics import retrieval_metrics
from vqa_tf.training import model_dir as files
from vqa_tf.training.task import Task, write_once


def ranking_loss(model, outputs, targets):
    """Per-pair ranking loss over the batch's pairs (`model`: a MatchingDANConfig, whose `negatives` say which
    count); other captions of a pair's image are not negatives (unless model.mask_same_image is False)."""
    similarity = tf.matmul(outputs["image_embedding"], outputs["text_embedding"], transpose_b=True)
    image_ids = targets["image_id"] if model.mask_same_image else None
    return bidirectional_ranking_loss(similarity, model.margin, model.negatives, image_ids)


class MatchingTask(Task):
    """Image-caption matching with the bidirectional ranking loss, scored by retrieval recall.

    Example (`prepare` writes the synthetic captions under the model_dir):
    >>> import tempfile
    >>> from vqa_tf.configs import apply_overrides, get_experiment
    >>> config = apply_overrides(get_experiment("mdan_synthetic"),
    ...                          "data.num_train=20,data.num_eval=10,data.input=images,data.backbone_pretraining=")
    >>> task = MatchingTask(config, tempfile.mkdtemp()).prepare()  # doctest: +ELLIPSIS
    wrote the synthetic captions: 20 training and 10 evaluation images → ...
    >>> task.num_train_examples, len(task.eval_examples)  # two captions per training image
    (40, 10)
    """

    @staticmethod
    def training_loss(model_config):
        """Per-pair ranking loss with `model_config`'s margin and masking; needs no data."""
        return functools.partial(ranking_loss, model_config)

    def _read_examples(self):
        self.train_examples, self.eval_examples = self._examples()
        self.tokenizer = self._tokenizer(c for e in self.train_examples for c in e.captions)
        self.num_train_examples = sum(len(e.captions) for e in self.train_examples)

    def _examples(self):
        data = self.config.data
        if data.source == "synthetic":
            directory = files.path(self.model_dir, files.DATA_DIR)
            sizes = {"train": data.num_train, "test": data.num_eval}

            def write(target):
                write_synthetic_captions(target, sizes, data.seed, data.image_size, data.synthetic_background)

            description = (
                f"wrote the synthetic captions: {data.num_train} training and {data.num_eval} evaluation images"
            )
            write_once(directory, write, description)
            path, root, train_split, eval_split = captions_path(directory), directory, "train", "test"
        elif data.source == "karpathy":
            path, root, train_split, eval_split = data.train_data, data.train_images, data.train_split, data.eval_split
        else:
            raise ValueError(f"data.source for a matching task must be synthetic or karpathy; got {data.source!r}")
        return (
            read_karpathy_json(path, root, splits=[train_split], check_images=False),
            read_karpathy_json(path, root, splits=[eval_split], check_images=False),
        )

    def build_inputs(self, split, input_context=None, training=True, seed=None, shuffle=None, batch_size=None):
        """Batches of (image, caption) pairs of `split` ("train" or "eval")."""
        data = self.config.data
        examples = self.split_examples(split)
        batch_size = batch_size or data.global_batch_size
        if data.input == "features":
            return pipelines.caption_feature_dataset(
                self._features(split), examples, self.tokenizer, batch_size, input_context, training, seed, shuffle
            )
        return pipelines.caption_image_dataset(
            examples, self.tokenizer, data.image_size, batch_size, input_context, training, seed, shuffle
        )

    def train_dataset(self, input_context, seed):
        return self.build_inputs("train", input_context, True, seed, self.config.data.shuffle).repeat()

    def embeddings(self, parts, split="eval"):
        """(image embeddings [I, D] in the order of `split`'s examples, caption embeddings [C, D], caption →
        image index).

        Each gallery image is embedded once, however many captions it has.
        """
        data = self.config.data
        examples = self.split_examples(split)
        batch = data.eval_batch_size
        image_vectors = {}
        if parts.backbone is None:
            images = pipelines.gallery_feature_dataset(self._features(split), [e.image_id for e in examples], batch)
        else:
            images = pipelines.gallery_image_dataset(examples, data.image_size, batch)
        for image_ids, pixels_or_grid in images:
            grid = pixels_or_grid if parts.backbone is None else parts.backbone(pixels_or_grid, training=False)
            for image_id, vector in zip(image_ids.numpy(), parts.core.embed_image(grid).numpy()):
                image_vectors[int(image_id)] = vector
        order = [e.image_id for e in examples]
        missing = set(order) - set(image_vectors)
        if missing:
            raise DataError(
                f"{len(missing)} gallery images are not in the feature store (e.g. image_id {min(missing)})"
            )
        text_vectors, caption_image = [], []
        for image_ids, token_ids in pipelines.caption_text_dataset(examples, self.tokenizer, batch):
            text_vectors.append(parts.core.embed_text(token_ids).numpy())
            caption_image += [int(i) for i in image_ids.numpy()]
        index = {image_id: i for i, image_id in enumerate(order)}
        return (
            np.stack([image_vectors[i] for i in order]),
            np.concatenate(text_vectors),
            np.array([index[i] for i in caption_image]),
        )

    def evaluate(self, parts):
        images, texts, caption_image = self.embeddings(parts, "eval")
        metrics = retrieval_metrics(images @ texts.T, caption_image)
        metrics["gallery_images"] = len(images)
        return metrics

    def headline(self, metrics):
        return metrics["text_to_image"]["r@1"]

    @staticmethod
    def describe(metrics):
        """One line per direction: Recall@1/5/10 and median rank."""
        return "\n".join(
            f"{direction}: R@1 {m['r@1']:.4f} R@5 {m['r@5']:.4f} R@10 {m['r@10']:.4f} "
            f"median rank {m['median_rank']:.0f}"
            for direction, m in ((d, metrics[d]) for d in ("image_to_text", "text_to_image"))
        )
