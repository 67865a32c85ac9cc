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

SPLITS = ("train", "eval")


def write_once(directory, write, description):
    """Runs `write(temporary)` and moves the result to `directory`, unless `directory` exists; when this
    call wrote it, prints `description → directory`, one line.

    Several workers may race to write the same directory; the first to
    finish wins and the others keep its copy.
    """
    if tf.io.gfile.isdir(directory):
        return
    try:
        with atomic_path(directory) as temporary:
            write(temporary)
    except FileExistsError:
        return
    print(f"{description} → {directory}", flush=True)


def saved(path, build, load):
    """Loads the file at `path`, or builds and saves it first if it is missing."""
    if not tf.io.gfile.exists(path):
        build().save(path)
    return load(path)


class Task:
    """The parts VQA and matching share: the data checks, the vocabulary, the model.

    Constructing a task checks its config and touches no file. `prepare()`
    then does, once, what training and evaluation need first: it writes
    what is missing (the synthetic data set, the pretrained backbone, the
    feature stores, each reported in one printed line; the vocabularies) and
    reads the examples. `make_task` returns a prepared task.
    """

    num_answers = None  # answer classes; VQA tasks set it

    def __init__(self, config, model_dir):
        self.config = config
        self.model_dir = model_dir
        self.prepared = False
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
                if not getattr(data, name):
                    raise ValueError(f"data.input = 'features' needs data.{name} (a vqa-extract-features output)")

    def prepare(self):
        """Writes what is missing, reads the examples and vocabularies, and returns the task; idempotent."""
        if self.prepared:
            return self
        data = self.config.data
        if data.input == "features" and not data.backbone_pretraining:
            for directory in (data.train_features, data.eval_features):
                self._check_store(directory)
        tf.io.gfile.makedirs(self.model_dir)
        # The examples first: a malformed file or image pattern is refused before minutes of backbone pretraining.
        self._read_examples()
        self.backbone_weights = pretrained_backbone_weights(self.config, self.model_dir)
        if data.input == "features" and data.backbone_pretraining:
            for split in SPLITS:
                self._features(split)
        self.prepared = True
        return self

    def _read_examples(self):
        """Sets the examples, the tokenizer and the other vocabularies (writing the data set if it is ours)."""
        raise NotImplementedError

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
        self.vocabulary = vocabulary
        return QuestionTokenizer(path, data.max_question_length)

    def split_examples(self, split, examples=None):
        """The examples of `split` ("train" or "eval"), or `examples`, which must all be examples of it.

        The split, never the examples, says which feature store holds their grids.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
        members = self.train_examples if split == "train" else self.eval_examples
        if examples is None:
            return members
        held = {id(e) for e in members}
        if not all(id(e) in held for e in examples):
            raise ValueError(f"every example must be one of task.{split}_examples: their grids are the {split} store's")
        return examples

    def _features(self, split):
        """The feature store of `split`, extracted from all of its examples on first use."""
        data = self.config.data
        if not data.backbone_pretraining:
            return data.train_features if split == "train" else data.eval_features
        directory = files.path(self.model_dir, posixpath.join(files.FEATURES_DIR, split))
        examples = self.split_examples(split)
        images = len({e.image_id for e in examples})
        description = f"extracted the {data.backbone} grids of the {images} {split} images"
        write_once(directory, lambda target: self._extract(examples, target), description)
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
        return build_model_parts(self.config, self.vocabulary, self.num_answers, weights)

    @property
    def steps_per_epoch(self):
        return max(1, self.num_train_examples // self.config.data.global_batch_size)
