"""The VQA task: answer classification over the top answers, scored with the official VQA accuracy."""

import functools

import keras
import numpy as np
import tensorflow as tf

from vqa_tf.data import pipelines
from vqa_tf.data.daquar_reader import read_daquar
from vqa_tf.data.errors import DataError
from vqa_tf.data.synthetic_files import read_evidence_mask, read_named_object_masks, vqa_paths, write_synthetic_vqa
from vqa_tf.data.vqa_reader import read_vqa
from vqa_tf.losses import evidence_attention_loss
from vqa_tf.metrics import (
    attention_entropy,
    evaluate_vqa,
    evidence_cells,
    evidence_weight,
    pointing_accuracy,
    same_argmax_share,
)
from vqa_tf.text import OOV_ID, AnswerVocabulary
from vqa_tf.training import model_dir as files
from vqa_tf.training.modeling import data_grid
from vqa_tf.training.task import Task, saved, write_once

BASELINES = ("question_only", "image_only")
SUPERVISION_TARGETS = ("union", "in_order")  # model.attention_supervision_targets
SYNTHETIC_SEED_OFFSETS = {"train": 0, "eval": 1}  # what each split of a synthetic run adds to data.seed


def synthetic_options(data):
    """The keyword arguments of `SpatialShapesVQA` (and `write_synthetic_vqa`) that a data config sets."""
    options = dict(
        background=data.synthetic_background,
        yes_prior=data.synthetic_yes_prior,
        negated_share=data.synthetic_negated_share,
    )
    if data.synthetic_tasks:
        options["tasks"] = data.synthetic_tasks
    return options


def answer_loss(outputs, targets):
    """Per-example softmax cross-entropy of the answer logits (float32 under every dtype policy)."""
    return keras.losses.sparse_categorical_crossentropy(targets["answer"], outputs["logits"], from_logits=True)


def attention_supervision(model_config):
    """The weight of the attention term (model.attention_supervision; 0 for families without it)."""
    return getattr(model_config, "attention_supervision", 0.0)


def supervised_attention_loss(weight):
    """`answer_loss` plus `weight` times `evidence_attention_loss` of the model's attention maps against the
    batch's `evidence` cells (model.attention_supervision)."""

    def answer_and_attention_loss(outputs, targets):
        attention = evidence_attention_loss(outputs["attention"], targets["evidence"])
        return answer_loss(outputs, targets) + weight * attention

    return answer_and_attention_loss


def blinded(inputs, baseline):
    """Model inputs with the image (question_only) or the question (image_only) replaced by a constant."""
    if baseline == "question_only":
        key = "images" if "images" in inputs else "image_features"
        return {**inputs, key: tf.zeros_like(inputs[key])}
    ids = inputs["token_ids"]
    constant = tf.one_hot(tf.zeros(tf.shape(ids)[:1], tf.int32), tf.shape(ids)[1], OOV_ID, 0, dtype=ids.dtype)
    return {**inputs, "token_ids": constant}


class VQATask(Task):
    """Answer classification over the top answers, scored with the official VQA accuracy.

    Example (`prepare` writes the synthetic set under the model_dir):
    >>> import tempfile
    >>> from vqa_tf.configs import apply_overrides, get_experiment
    >>> config = apply_overrides(get_experiment("smem_two_hop_synthetic"),
    ...                          "data.num_train=30,data.num_eval=9,data.input=images,data.backbone_pretraining=")
    >>> task = VQATask(config, tempfile.mkdtemp()).prepare()  # doctest: +ELLIPSIS
    wrote the synthetic set: 30 training and 9 evaluation questions → ...
    >>> len(task.train_examples), task.answers.answers[:2]
    (30, ['yes', 'no'])
    """

    @staticmethod
    def training_loss(model_config):
        """Per-example answer cross-entropy (`answer_loss`), with the attention term of
        `supervised_attention_loss` where model.attention_supervision is on; needs no data."""
        weight = attention_supervision(model_config)
        return supervised_attention_loss(weight) if weight else answer_loss

    def __init__(self, config, model_dir):
        if config.data.baseline not in ("",) + BASELINES:
            raise ValueError(f"data.baseline must be '' or one of {', '.join(BASELINES)}; got {config.data.baseline!r}")
        targets = getattr(config.model, "attention_supervision_targets", "union")
        if targets not in SUPERVISION_TARGETS:
            raise ValueError(
                f"model.attention_supervision_targets must be one of {', '.join(SUPERVISION_TARGETS)}; got {targets!r}"
            )
        if targets != "union" and not attention_supervision(config.model):
            raise ValueError(
                f"model.attention_supervision_targets={targets} has no effect while model.attention_supervision is 0"
            )
        super().__init__(config, model_dir)

    def _read_examples(self):
        self.train_examples, self.eval_examples = self._examples()
        self.tokenizer = self._tokenizer(e.question for e in self.train_examples)
        answers_path = files.path(self.model_dir, files.ANSWERS_FILE)
        targets = [e.majority_answer for e in self.train_examples]
        top = self.config.data.top_answers
        self.answers = saved(answers_path, lambda: AnswerVocabulary.build(targets, top), AnswerVocabulary.load)
        self.num_answers = len(self.answers)
        self.num_train_examples = len(pipelines.vqa_answer_rows(self.train_examples, self.answers))

    def _examples(self):
        data = self.config.data
        if data.source == "synthetic":
            directory = files.path(self.model_dir, files.DATA_DIR)

            def write(target):
                for split, count in (("train", data.num_train), ("eval", data.num_eval)):
                    seed = data.seed + SYNTHETIC_SEED_OFFSETS[split]
                    write_synthetic_vqa(target, split, count, seed, data.image_size, **synthetic_options(data))

            description = f"wrote the synthetic set: {data.num_train} training and {data.num_eval} evaluation questions"
            write_once(directory, write, description)
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

    def build_inputs(
        self,
        split,
        input_context=None,
        training=True,
        seed=None,
        shuffle=None,
        batch_size=None,
        every_question=False,
        examples=None,
    ):
        """Batches of `split` ("train" or "eval"), or of `examples` from it; `every_question` keeps the
        questions whose answer is not a class (target −1).

        A blind baseline (data.baseline) sees its inputs blinded here, in training and evaluation alike.
        """
        data = self.config.data
        examples = self.split_examples(split, examples)
        batch_size = batch_size or data.global_batch_size
        answers = None if every_question else self.answers
        if data.input == "features":
            dataset = pipelines.vqa_feature_dataset(
                self._features(split),
                examples,
                self.tokenizer,
                answers,
                batch_size,
                input_context,
                training,
                seed,
                shuffle,
            )
        else:
            dataset = pipelines.vqa_image_dataset(
                examples, self.tokenizer, answers, data.image_size, batch_size, input_context, training, seed, shuffle
            )
        if not data.baseline:
            return dataset
        return dataset.map(lambda inputs, targets: (blinded(inputs, data.baseline), targets))

    def train_dataset(self, input_context, seed):
        dataset = self.build_inputs("train", input_context, True, seed, self.config.data.shuffle)
        if attention_supervision(self.config.model):
            dataset = self._with_evidence(dataset)
        return dataset.repeat()

    @functools.cache
    def _train_evidence_grids(self):
        """[questions, targets, h, w]: each training question's evidence cells on the model's grid, read once
        per task (every input pipeline of a distributed run asks for them).

        One target, all the answer's objects, under model.attention_supervision_targets "union"; under
        "in_order" one per object the question names, in order, the last repeated up to the most any
        question names (`evidence_attention_loss` trains hop k onto target k)."""
        targets = self.config.model.attention_supervision_targets
        height, width, _ = data_grid(self.config)
        per_question = []
        for example in self.train_examples:
            masks = read_named_object_masks(example.evidence_mask_path)
            if targets == "union" and masks:
                masks = [np.logical_or.reduce(masks)]
            per_question.append([evidence_cells(mask, (height, width)) for mask in masks])
        grids = np.zeros((len(per_question), max(map(len, per_question)), height, width), np.float32)
        for row, cells in enumerate(per_question):
            if cells:  # the last object repeated up to the most any question names
                grids[row] = [cells[min(target, len(cells) - 1)] for target in range(grids.shape[1])]
        if not grids.any():
            raise DataError(
                "model.attention_supervision needs evidence masks (the objects each answer rests on), and no "
                "training question has one; the synthetic data writes them. Set model.attention_supervision=0"
            )
        return grids

    def _with_evidence(self, dataset):
        """`dataset` with an `evidence` target per question: its evidence cells on the model's grid, one grid per
        target (`_train_evidence_grids`)."""
        examples = self.train_examples
        rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([e.question_id for e in examples], tf.int64), tf.range(len(examples), dtype=tf.int64)
            ),
            default_value=-1,
        )
        grids = tf.constant(self._train_evidence_grids())

        def add_evidence(inputs, targets):
            row = rows.lookup(tf.cast(targets["question_id"], tf.int64))
            return inputs, {**targets, "evidence": tf.gather(grids, row)}

        return dataset.map(add_evidence)

    def predict(self, model, split="eval", examples=None, other_questions=False):
        """{question_id: (answer, attention maps [hops, h, w])} for every question of `split`, or of
        `examples` from it.

        `other_questions`: ask each image the question of the example before
        it in its batch instead of its own (a probe of how much the attention
        depends on the question; the answers are then meaningless).
        """
        examples = self.split_examples(split, examples)
        dataset = self.build_inputs(
            split,
            training=False,
            shuffle=False,
            batch_size=self.config.data.eval_batch_size,
            every_question=True,
            examples=examples,
        )
        if other_questions:
            dataset = dataset.map(
                lambda inputs, targets: (
                    {**inputs, "token_ids": tf.roll(inputs["token_ids"], shift=1, axis=0)},
                    targets,
                )
            )
        predictions = {}
        for inputs, targets in dataset:
            out = model(inputs, training=False)
            classes = np.argmax(out["logits"], axis=-1)
            attention = np.asarray(out["attention"])
            for question_id, cls, maps in zip(targets["question_id"].numpy(), classes, attention):
                predictions[int(question_id)] = (self.answers.answers[cls], maps)
        missing = {e.question_id for e in examples} - set(predictions)
        if missing:
            raise DataError(
                f"{len(missing)} evaluation questions got no prediction (e.g. question_id {min(missing)}): "
                "is their image missing from the feature store?"
            )
        return predictions

    def evaluate(self, parts):
        predictions = self.predict(parts.model, "eval")
        metrics = evaluate_vqa(
            {q: p[0] for q, p in predictions.items()},
            self.eval_examples,
            group_by=lambda e: (e.answer_type, e.question_type),
        )
        result = {
            "accuracy": metrics["overall"],
            "accuracy_per_answer_type": metrics["per_answer_type"],
            "num_questions": metrics["num_questions"],
        }
        if metrics["per_question_type"]:
            result["accuracy_per_question_type"] = metrics["per_question_type"]
            # {answer type: {question type: accuracy}}: e.g. whether a task's negated form lags its affirmative one
            crossed = {}
            for (answer_type, question_type), accuracy in sorted(metrics["per_group"].items()):
                if answer_type and question_type:
                    crossed.setdefault(answer_type, {})[question_type] = accuracy
            result["accuracy_per_answer_and_question_type"] = crossed
        if any(e.evidence_mask_path for e in self.eval_examples):
            result.update(self._attention_diagnostics(parts.model, predictions))
        return result

    def _attention_diagnostics(self, model, predictions):
        """Per task and hop: pointing, weight on the evidence, entropy, and how often another question
        about the same image leaves the hop's argmax cell where it was."""
        examples = self.eval_examples
        masks = self._evidence_masks()
        groups = [e.answer_type for e in examples]
        attention = np.stack([predictions[e.question_id][1] for e in examples])
        swapped = self.predict(model, "eval", other_questions=True)
        return {
            "pointing_accuracy_per_hop": pointing_accuracy(attention, masks, groups),
            "evidence_weight_per_hop": evidence_weight(attention, masks, groups),
            "attention_entropy_per_hop": attention_entropy(attention, groups),
            "same_argmax_other_question_per_hop": same_argmax_share(
                attention, np.stack([swapped[e.question_id][1] for e in examples]), groups
            ),
        }

    @functools.cache
    def _evidence_masks(self):
        """The evaluation questions' evidence masks, read once per task rather than per evaluation."""
        return [read_evidence_mask(e.evidence_mask_path) for e in self.eval_examples]

    def headline(self, metrics):
        return metrics["accuracy"]

    @staticmethod
    def describe(metrics):
        """One line: overall accuracy and accuracy per answer type."""
        per_type = ", ".join(f"{k} {v:.4f}" for k, v in metrics["accuracy_per_answer_type"].items())
        return f"accuracy {metrics['accuracy']:.4f}; per answer type {per_type}"
