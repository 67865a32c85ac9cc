"""One typed config per model family: the single source of every model hyperparameter.

`ExperimentConfig.model` holds exactly one of these, tagged by its `name`
(the model's name in `vqa_tf.models.MODELS`); overriding `model.name`
switches to another family's config with that family's defaults.

Each family's defaults are its paper's settings, and the comment beside
each value gives its source: the paper, the authors' released code, or
"ours" with the reason. The sizes the data fixes (vocabulary, answer
count, grid shape, question length) are not here: they come from the data
config, the vocabularies and the backbone.
"""

import dataclasses
from typing import ClassVar

# Marks a field that configures the loss rather than the model's constructor.
LOSS = {"loss": True}
# The key of a field of question words that the model's constructor takes as token ids.
TOKEN_IDS_ARGUMENT = "token_ids_argument"


def _attention_supervision_field():
    """The field `attention_supervision` of the attention models: the weight of an extra loss term, per
    question, −mean over hops of log(the hop's attention weight on the cells of the objects the answer rests
    on), read from the data's evidence masks (the synthetic set writes them). Not the papers': ours, an option
    for data with masks; 0 (off) gives the paper's model."""
    return dataclasses.field(default=0.0, metadata=LOSS)


def _attention_supervision_targets_field():
    """The field `attention_supervision_targets`: which evidence each hop is trained onto. "union": every hop
    onto all the objects the answer rests on; "in_order": hop k onto the k-th object the question names (the
    last one for the hops after it), so that "is the red square above the blue circle?" reads the square,
    then the circle. Ours, with the option."""
    return dataclasses.field(default="union", metadata=LOSS)


@dataclasses.dataclass
class FamilyConfig:
    """Base of the per-family configs: `arguments()` are the model constructor's hyperparameters.

    `task` says what the family does: "vqa" (answers questions) or "matching" (scores image-caption pairs).
    """

    task: ClassVar[str] = "vqa"
    name: str = ""

    def __post_init__(self):
        expected = type(self).__dataclass_fields__["name"].default
        if self.name != expected:
            raise ValueError(f"{type(self).__name__} configures model {expected!r}, not {self.name!r}")

    def arguments(self, vocabulary=None):
        """{constructor argument: value} for the model class `name` registers (loss fields left out).

        A field of question words becomes their ids in `vocabulary` (a
        `vqa_tf.text.Vocabulary`), which it must hold.

        Examples:
        >>> ReasoningDANConfig(hidden_dim=128).arguments()
        {'hidden_dim': 128, 'num_steps': 2, 'dropout': 0.5}
        """
        arguments = {}
        for field in dataclasses.fields(self):
            if field.name == "name" or field.metadata.get("loss"):
                continue
            value = getattr(self, field.name)
            if TOKEN_IDS_ARGUMENT in field.metadata:
                arguments[field.metadata[TOKEN_IDS_ARGUMENT]] = _token_ids(field.name, value, vocabulary)
            else:
                arguments[field.name] = value
        return arguments


def _token_ids(name, words, vocabulary):
    """The ids of `words` (the value of field `name`) in `vocabulary`."""
    if not words:
        return []
    if vocabulary is None:
        raise ValueError(f"model.{name}={words} names question words, but no question vocabulary was given")
    unknown = [word for word in words if word not in vocabulary.tokens]
    if unknown:
        raise ValueError(f"model.{name} names words the question vocabulary does not hold: {', '.join(unknown)}")
    return [vocabulary.id(word) for word in words]


@dataclasses.dataclass
class SMemVQAConfig(FamilyConfig):
    """Spatial Memory Network (Xu & Saenko, "Ask, Attend and Answer", ECCV 2016)."""

    name: str = "smem_vqa"
    embedding_dim: int = 1000  # N, word and region embedding size: paper
    num_hops: int = 2  # the two-hop model, the paper's best: paper
    dropout: float = 0.4  # on the grid features and before the classifier: paper
    # ours, measured: with raw features hop 2's softmax over E·O₁ starts saturated (mean largest
    # weight 0.83 of 64 regions at initialization on the synthetic grid) and two-hop training sat at
    # the question prior; unit-norm regions start it near uniform. False gives the paper's model.
    normalize_regions: bool = True
    # paper: each region keeps its best word's score. "logsumexp" (ours, not the paper's) lets every word of
    # the question score the region, so that words other than the winner get a gradient; "sum" (ours, not the
    # paper's) adds the words' scores, so that a region matching two named words outscores one matching either
    hop1_word_pooling: str = "max"
    # Q's per-position weights start uniform in ±0.08: official code ("ones" is the synthetic recipes' start:
    # ours, measured better there; benchmarks/results/reasoning_experiments.md)
    position_weights_init: str = "official"
    # ours, not the paper's (empty: every word, the paper's hop 1): words hop 1's max skips, e.g. ["is", "the"],
    # so that a word every question holds cannot set the map (benchmarks/results/reasoning_experiments_hop1_*)
    hop1_skip_words: list[str] = dataclasses.field(
        default_factory=list, metadata={TOKEN_IDS_ARGUMENT: "hop1_skip_token_ids"}
    )
    attention_supervision: float = _attention_supervision_field()
    attention_supervision_targets: str = _attention_supervision_targets_field()


@dataclasses.dataclass
class IBowImgConfig(FamilyConfig):
    """iBOWIMG (Zhou et al., 2015), the bag-of-words baseline the SMem paper compares against."""

    name: str = "ibowimg"
    embedding_dim: int = 1000  # ours: SMem-VQA's N, so the baseline's words are embedded alike
    dropout: float = 0.0  # ours: one softmax layer over [words; pooled image], as in the baseline's description


@dataclasses.dataclass
class ReasoningDANConfig(FamilyConfig):
    """r-DAN, the reasoning Dual Attention Network for VQA (Nam, Ha & Kim, CVPR 2017)."""

    name: str = "reasoning_dan"
    hidden_dim: int = 512  # d, every hidden layer: paper
    num_steps: int = 2  # K attention steps: paper
    dropout: float = 0.5  # paper
    attention_supervision: float = _attention_supervision_field()
    attention_supervision_targets: str = _attention_supervision_targets_field()


@dataclasses.dataclass
class MatchingDANConfig(FamilyConfig):
    """m-DAN, the matching Dual Attention Network for image-text retrieval (Nam, Ha & Kim, CVPR 2017)."""

    task: ClassVar[str] = "matching"
    name: str = "matching_dan"
    hidden_dim: int = 512  # d: paper
    num_steps: int = 2  # K: paper
    dropout: float = 0.5  # paper
    margin: float = dataclasses.field(default=100.0, metadata=LOSS)  # ranking-loss margin: paper
    # one sampled negative image and caption per pair, the quadruplets (v, u, v⁻, u⁻): paper; "all" sums the
    # hinge over every in-batch negative (ours: a later convention), "hardest" keeps the largest (VSE++, later)
    negatives: str = dataclasses.field(default="sampled", metadata=LOSS)
    # pairs of the same image are never negatives: paper ("non-matching pairs"); False counts every other
    # caption in the batch as one (an ablation)
    mask_same_image: bool = dataclasses.field(default=True, metadata=LOSS)


MODEL_CONFIGS = {
    cls.__dataclass_fields__["name"].default: cls
    for cls in (SMemVQAConfig, IBowImgConfig, ReasoningDANConfig, MatchingDANConfig)
}
ModelConfig = SMemVQAConfig | IBowImgConfig | ReasoningDANConfig | MatchingDANConfig


def model_config(name, **values):
    """The config of model family `name` with its defaults, updated by `values`.

    Examples:
    >>> model_config("reasoning_dan", num_steps=3).arguments()
    {'hidden_dim': 512, 'num_steps': 3, 'dropout': 0.5}
    >>> model_config("lstm")
    Traceback (most recent call last):
    ...
    KeyError: "unknown model 'lstm'; valid names: ibowimg, matching_dan, reasoning_dan, smem_vqa"
    """
    if name not in MODEL_CONFIGS:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODEL_CONFIGS))}")
    return MODEL_CONFIGS[name](**values)
