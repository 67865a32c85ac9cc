"""Tasks: what the one training loop needs to know about VQA and about matching.

A task turns an `ExperimentConfig` into examples, vocabularies, a model, an
input pipeline, a per-example loss and an evaluation. Vocabularies are
written to the model directory on the first run and read back on every
rerun, so a resumed run keeps its token and answer ids.
"""

import collections
import functools
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from vqa_tf.data import feature_store, pipelines
from vqa_tf.data.caption_reader import read_karpathy_json
from vqa_tf.data.daquar_reader import read_daquar
from vqa_tf.data.errors import DataError
from vqa_tf.data.synthetic_files import captions_path, vqa_paths, write_synthetic_captions, write_synthetic_vqa
from vqa_tf.data.vqa_reader import read_vqa
from vqa_tf.losses import bidirectional_ranking_loss
from vqa_tf.metrics import evaluate_vqa, pointing_accuracy, retrieval_metrics
from vqa_tf.models import build_model, with_backbone
from vqa_tf.text import AnswerVocabulary, QuestionTokenizer, Vocabulary, words_of
from vqa_tf.vision import build_backbone

VOCABULARY_FILE = "vocab.txt"
ANSWERS_FILE = "answers.txt"


def _once(directory, write):
    """Runs `write(tmp)` and renames tmp to `directory` unless another process got there first."""
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(dir=parent, prefix=".tmp-")
    try:
        write(temporary)
        os.rename(temporary, directory)
    except OSError:
        if not os.path.isdir(directory):
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _saved(path, build, load):
    """Loads the file at `path`, or builds and saves it (atomically) if it is missing."""
    if not os.path.exists(path):
        value = build()
        temporary = f"{path}.tmp-{os.getpid()}"
        value.save(temporary)
        os.replace(temporary, path)
    return load(path)


def _mask(path):
    if path is None:
        return None
    return tf.io.decode_png(tf.io.read_file(path)).numpy()[..., 0] > 0


class Task:
    """Shared parts: the backbone, the grid shape, the tokenizer."""

    def __init__(self, config, model_dir):
        self.config = config
        self.model_dir = model_dir
        data = config.data
        if data.input not in ("images", "features"):
            raise ValueError(f"data.input must be 'images' or 'features'; got {data.input!r}")
        if data.input == "features":
            for name in ("train_features", "eval_features"):
                directory = getattr(data, name)
                if not directory:
                    raise ValueError(f"data.input = 'features' needs data.{name} (a vqa-extract-features output)")
            self.grid_shape = feature_store.read_metadata(data.train_features).grid_shape
        else:
            self.grid_shape = tuple(self._backbone().output.shape[1:])
        os.makedirs(model_dir, exist_ok=True)

    def _backbone(self):
        data = self.config.data
        backbone = build_backbone(data.backbone, data.image_size, data.backbone_weights or None)
        backbone.trainable = data.train_backbone
        return backbone

    def _tokenizer(self, texts):
        path = os.path.join(self.model_dir, VOCABULARY_FILE)
        data = self.config.data
        _saved(path, lambda: Vocabulary.build(words_of(texts), data.min_word_count), Vocabulary.load)
        self.vocabulary_size = len(Vocabulary.load(path))
        return QuestionTokenizer(path, data.max_question_length)

    def _grid_kwargs(self):
        height, width, channels = self.grid_shape
        return dict(grid_height=height, grid_width=width, feature_dim=channels)

    def _on_input(self, model):
        """`model` fed by the backbone (input = "images") or by stored features; keeps both parts."""
        self.core = model
        if self.config.data.input == "features":
            self.backbone = None
            return model
        self.backbone = self._backbone()
        return with_backbone(self.backbone, model)

    @property
    def steps_per_epoch(self):
        return max(1, self.num_train_examples // self.config.data.global_batch_size)


class VQATask(Task):
    """Answer classification over the top answers, scored with the official VQA accuracy."""

    def __init__(self, config, model_dir):
        super().__init__(config, model_dir)
        self.train_examples, self.eval_examples = self._examples()
        self.tokenizer = self._tokenizer(e.question for e in self.train_examples)
        answers_path = os.path.join(model_dir, ANSWERS_FILE)
        most_common = [collections.Counter(e.answers).most_common(1)[0][0] for e in self.train_examples]
        self.answers = _saved(
            answers_path,
            lambda: AnswerVocabulary.build(most_common, config.data.top_answers),
            AnswerVocabulary.load,
        )
        self.num_train_examples = len(pipelines.vqa_answer_rows(self.train_examples, self.answers))

    def _examples(self):
        data = self.config.data
        if data.source == "synthetic":
            directory = os.path.join(self.model_dir, "data")

            def write(target):
                write_synthetic_vqa(target, "train", data.num_train, data.seed, data.image_size)
                write_synthetic_vqa(target, "eval", data.num_eval, data.seed + 1, data.image_size)

            _once(directory, write)
            splits = []
            for split in ("train", "eval"):
                questions, annotations, pattern = vqa_paths(directory, split)
                splits.append(read_vqa(questions, pattern, annotations, check_images=False))
            return splits
        if data.source == "vqa":
            return (
                read_vqa(data.train_data, data.train_images, data.train_annotations, check_images=False),
                read_vqa(data.eval_data, data.eval_images, data.eval_annotations, check_images=False),
            )
        if data.source == "daquar":
            return (
                read_daquar(data.train_data, data.train_images, check_images=False),
                read_daquar(data.eval_data, data.eval_images, check_images=False),
            )
        raise ValueError(f"data.source for a VQA task must be synthetic, vqa or daquar; got {data.source!r}")

    def build_model(self):
        model = self.config.model
        kwargs = dict(vocab_size=self.vocabulary_size, num_answers=len(self.answers), **self._grid_kwargs())
        if model.name == "smem_vqa":
            kwargs.update(embedding_dim=model.embedding_dim, num_hops=model.num_hops, dropout=model.dropout,
                          max_question_length=self.config.data.max_question_length)
        elif model.name == "ibowimg":
            kwargs.update(embedding_dim=model.embedding_dim, dropout=model.dropout)
        elif model.name == "reasoning_dan":
            kwargs.update(hidden_dim=model.hidden_dim, num_steps=model.num_steps, dropout=model.dropout)
        else:
            raise ValueError(f"model {model.name!r} does not answer questions; use a matching experiment")
        return self._on_input(build_model(model.name, **kwargs))

    def dataset(self, examples, input_context=None, training=True, seed=None, shuffle=None, batch_size=None,
                every_question=False):
        """Batches of `examples`; `every_question` keeps those whose answer is not a class (target −1)."""
        data = self.config.data
        batch_size = batch_size or data.global_batch_size
        answers = None if every_question else self.answers
        if data.input == "features":
            features = data.train_features if examples is self.train_examples else data.eval_features
            return pipelines.vqa_feature_dataset(
                features, examples, self.tokenizer, answers, batch_size, input_context, training, seed, shuffle
            )
        return pipelines.vqa_image_dataset(
            examples, self.tokenizer, answers, data.image_size, batch_size, input_context, training, seed, shuffle
        )

    def train_dataset(self, input_context, seed):
        shuffle = self.config.data.shuffle
        return self.dataset(self.train_examples, input_context, True, seed, shuffle).repeat()

    def loss(self, outputs, targets):
        logits = tf.cast(outputs["logits"], tf.float32)
        return keras.losses.sparse_categorical_crossentropy(targets["answer"], logits, from_logits=True)

    def predict(self, model, examples):
        """{question_id: (answer, attention maps [hops, h, w])} for every one of `examples`."""
        dataset = self.dataset(
            examples, training=False, shuffle=False, batch_size=self.config.data.eval_batch_size, every_question=True
        )
        predictions = {}
        for inputs, targets in dataset:
            out = model(inputs, training=False)
            classes = np.argmax(out["logits"], axis=-1)
            attention = np.asarray(tf.cast(out["attention"], tf.float32))
            for question_id, cls, maps in zip(targets["question_id"].numpy(), classes, attention):
                predictions[int(question_id)] = (self.answers.answers[cls], maps)
        missing = {e.question_id for e in examples} - set(predictions)
        if missing:
            raise DataError(
                f"{len(missing)} evaluation questions got no prediction (e.g. question_id {min(missing)}): "
                "is their image missing from the feature store?"
            )
        return predictions

    def evaluate(self, model):
        predictions = self.predict(model, self.eval_examples)
        metrics = evaluate_vqa({q: p[0] for q, p in predictions.items()}, self.eval_examples)
        result = {
            "accuracy": metrics["overall"],
            "accuracy_per_answer_type": metrics["per_answer_type"],
            "num_questions": metrics["num_questions"],
        }
        if any(e.evidence_mask_path for e in self.eval_examples):
            masks = self._evidence_masks()
            attention = np.stack([predictions[e.question_id][1] for e in self.eval_examples])
            result["pointing_accuracy_per_hop"] = pointing_accuracy(
                attention, masks, [e.answer_type for e in self.eval_examples]
            )
        return result

    @functools.cache
    def _evidence_masks(self):
        """The evaluation questions' evidence masks, read once per task rather than per evaluation."""
        return [_mask(e.evidence_mask_path) for e in self.eval_examples]

    def headline(self, metrics):
        return metrics["accuracy"]


class MatchingTask(Task):
    """Image-caption matching with the bidirectional ranking loss, scored by retrieval recall."""

    def __init__(self, config, model_dir):
        super().__init__(config, model_dir)
        if config.model.name != "matching_dan":
            raise ValueError(f"a matching experiment needs model.name = 'matching_dan'; got {config.model.name!r}")
        self.train_examples, self.eval_examples = self._examples()
        self.tokenizer = self._tokenizer(c for e in self.train_examples for c in e.captions)
        self.num_train_examples = sum(len(e.captions) for e in self.train_examples)

    def _examples(self):
        data = self.config.data
        if data.source == "synthetic":
            directory = os.path.join(self.model_dir, "data")
            _once(
                directory,
                lambda target: write_synthetic_captions(
                    target, {"train": data.num_train, "test": data.num_eval}, data.seed, data.image_size
                ),
            )
            path, root, train_split, eval_split = captions_path(directory), directory, "train", "test"
        elif data.source == "karpathy":
            path, root, train_split, eval_split = data.train_data, data.train_images, data.train_split, data.eval_split
        else:
            raise ValueError(f"data.source for a matching task must be synthetic or karpathy; got {data.source!r}")
        return (
            read_karpathy_json(path, root, splits=[train_split], check_images=False),
            read_karpathy_json(path, root, splits=[eval_split], check_images=False),
        )

    def build_model(self):
        model = self.config.model
        core = build_model(
            "matching_dan",
            vocab_size=self.vocabulary_size,
            hidden_dim=model.hidden_dim,
            num_steps=model.num_steps,
            dropout=model.dropout,
            **self._grid_kwargs(),
        )
        return self._on_input(core)

    def dataset(self, examples, input_context=None, training=True, seed=None, shuffle=None, batch_size=None):
        data = self.config.data
        batch_size = batch_size or data.global_batch_size
        if data.input == "features":
            features = data.train_features if examples is self.train_examples else data.eval_features
            return pipelines.caption_feature_dataset(
                features, examples, self.tokenizer, batch_size, input_context, training, seed, shuffle
            )
        return pipelines.caption_image_dataset(
            examples, self.tokenizer, data.image_size, batch_size, input_context, training, seed, shuffle
        )

    def train_dataset(self, input_context, seed):
        return self.dataset(self.train_examples, input_context, True, seed, self.config.data.shuffle).repeat()

    def loss(self, outputs, targets):
        image = tf.cast(outputs["image_embedding"], tf.float32)
        text = tf.cast(outputs["text_embedding"], tf.float32)
        similarity = tf.matmul(image, text, transpose_b=True)
        return bidirectional_ranking_loss(similarity, self.config.model.margin, self.config.model.hardest_negative)

    def embeddings(self, examples):
        """(image embeddings [I, D] in `examples` order, caption embeddings [C, D], caption → image index)."""
        batch = self.config.data.eval_batch_size
        image_vectors, text_vectors, caption_image = {}, [], []
        dataset = self.dataset(examples, training=False, shuffle=False, batch_size=batch)
        for inputs, targets in dataset:
            image_key = "images" if "images" in inputs else "image_features"
            grid = inputs[image_key] if self.backbone is None else self.backbone(inputs[image_key], training=False)
            z_v = self.core.embed_image(grid).numpy()
            z_u = self.core.embed_text(inputs["token_ids"]).numpy()
            for image_id, v, u in zip(targets["image_id"].numpy(), z_v, z_u):
                image_vectors[int(image_id)] = v
                text_vectors.append(u)
                caption_image.append(int(image_id))
        order = [e.image_id for e in examples]
        index = {image_id: i for i, image_id in enumerate(order)}
        return (
            np.stack([image_vectors[i] for i in order]),
            np.stack(text_vectors),
            np.array([index[i] for i in caption_image]),
        )

    def evaluate(self, model):
        images, texts, caption_image = self.embeddings(self.eval_examples)
        metrics = retrieval_metrics(images @ texts.T, caption_image)
        metrics["gallery_images"] = len(images)
        return metrics

    def headline(self, metrics):
        return metrics["text_to_image"]["r@1"]


def make_task(config, model_dir):
    tasks = {"vqa": VQATask, "matching": MatchingTask}
    if config.task not in tasks:
        raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(tasks)}")
    return tasks[config.task](config, model_dir)
