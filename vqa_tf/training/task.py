"""Tasks: what the one training loop needs to know about VQA and about matching.

A task turns an `ExperimentConfig` and a model_dir into examples,
vocabularies, the model, input pipelines, a per-example loss and an
evaluation. Vocabularies are written to the model_dir on the first run and
read back on every rerun, so a resumed run keeps its token and answer ids.
"""

import posixpath

import tensorflow as tf

from vqa_tf.data import feature_store
from vqa_tf.data.errors import DataError
from vqa_tf.data.feature_extraction import Extractor, extract
from vqa_tf.text import QuestionTokenizer, Vocabulary, words_of
from vqa_tf.training import model_dir as files
from vqa_tf.training.backbone_pretraining import check_pretraining, pretrained_backbone_weights
from vqa_tf.training.modeling import build_model_parts, data_grid
from vqa_tf.utils.files import atomic_path
from vqa_tf.vision import build_backbone


def write_once(directory, write):
    """Runs `write(temporary)` and moves the result to `directory`, unless `directory` exists.

    Several workers may race to write the same directory; the first to
    finish wins and the others keep its copy.
    """
    if tf.io.gfile.isdir(directory):
        return
    try:
        with atomic_path(directory) as temporary:
            write(temporary)
    except FileExistsError:
        pass


def saved(path, build, load):
    """Loads the file at `path`, or builds and saves it first if it is missing."""
    if not tf.io.gfile.exists(path):
        build().save(path)
    return load(path)


class Task:
    """The parts VQA and matching share: the data checks, the vocabulary, the model."""

    num_answers = None  # answer classes; VQA tasks set it

    def __init__(self, config, model_dir):
        self.config = config
        self.model_dir = model_dir
        if config.model.task != config.task:
            raise ValueError(
                f"model {config.model.name!r} is a {config.model.task} model; a {config.task} experiment cannot "
                f"train it (set model.name to a {config.task} model)"
            )
        data = config.data
        if data.baseline and config.task != "vqa":
            raise ValueError(f"data.baseline is for VQA experiments; a {config.task} experiment has none")
        if data.input not in ("images", "features"):
            raise ValueError(f"data.input must be 'images' or 'features'; got {data.input!r}")
        check_pretraining(data)
        if data.input == "features" and not data.backbone_pretraining:
            for name in ("train_features", "eval_features"):
                directory = getattr(data, name)
                if not directory:
                    raise ValueError(f"data.input = 'features' needs data.{name} (a vqa-extract-features output)")
                self._check_store(directory)
        tf.io.gfile.makedirs(model_dir)
        self.backbone_weights = pretrained_backbone_weights(config, model_dir)

    def _check_store(self, directory):
        """The store must hold what the serving graph's backbone computes: data.backbone at data.image_size."""
        data = self.config.data
        metadata = feature_store.read_metadata(directory)
        if (metadata.backbone, metadata.image_size, metadata.grid_shape) != (
            data.backbone,
            data.image_size,
            data_grid(self.config),
        ):
            raise DataError(
                f"feature store {directory} holds {metadata.backbone} grids of {metadata.grid_shape} from "
                f"{metadata.image_size}×{metadata.image_size} images, but the experiment says data.backbone="
                f"{data.backbone}, data.image_size={data.image_size}; extract the features with those, or set them"
            )

    def _tokenizer(self, texts):
        path = files.path(self.model_dir, files.VOCABULARY_FILE)
        data = self.config.data
        vocabulary = saved(path, lambda: Vocabulary.build(words_of(texts), data.min_word_count), Vocabulary.load)
        self.vocabulary_size = len(vocabulary)
        return QuestionTokenizer(path, data.max_question_length)

    def _split_of(self, examples):
        """ "train" or "eval": the split whose examples hold every one of `examples` (a subset or a slice
        reads its own split's store); a ValueError for examples of neither or of both."""
        for split, members in (("train", self.train_examples), ("eval", self.eval_examples)):
            held = {id(e) for e in members}
            if all(id(e) in held for e in examples):
                return split
        raise ValueError(
            "the examples must all come from one split of this task: task.train_examples or "
            "task.eval_examples (or a subset of one); their grids are that split's feature store"
        )

    def _features(self, examples):
        """The feature store of `examples` (the training or the evaluation split)."""
        data = self.config.data
        split = self._split_of(examples)
        if not data.backbone_pretraining:
            return data.train_features if split == "train" else data.eval_features
        directory = files.path(self.model_dir, posixpath.join(files.FEATURES_DIR, split))
        write_once(directory, lambda target: self._extract(examples, target))
        return directory

    def _extract(self, examples, directory):
        """Writes the pretrained backbone's grids of the images of `examples` to a feature store."""
        data = self.config.data
        backbone = build_backbone(data.backbone, data.image_size, self.backbone_weights)
        images = sorted({(e.image_id, e.image_path) for e in examples})
        extract(
            images,
            Extractor(backbone, data.image_size, batch_size=256),
            data.backbone,
            directory,
            num_shards=1,
            dtype="float32",
        )

    def build_model(self, pretrained=True):
        """The ModelParts of this task's model, with fresh weights (see `build_model_parts`).

        `pretrained`: start the backbone from the run's starting weights (a model
        about to load a checkpoint needs none).
        """
        weights = self.backbone_weights if pretrained else ""
        return build_model_parts(self.config, self.vocabulary_size, self.num_answers, weights)

    @property
    def steps_per_epoch(self):
        return max(1, self.num_train_examples // self.config.data.global_batch_size)
