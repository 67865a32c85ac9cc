"""Model names used by configs and command lines, mapped to their classes."""

import inspect

from vqa_tf.models.ibowimg import IBowImg
from vqa_tf.models.matching_dan import MatchingDAN
from vqa_tf.models.reasoning_dan import ReasoningDAN
from vqa_tf.models.smem_vqa import SMemVQA

MODELS = {
    "smem_vqa": SMemVQA,
    "reasoning_dan": ReasoningDAN,
    "matching_dan": MatchingDAN,
    "ibowimg": IBowImg,
}


def get_model_class(name):
    """The model class registered as `name`; a KeyError lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}") from None


def build_model(name, **kwargs):
    """`get_model_class(name)(**kwargs)`."""
    return get_model_class(name)(**kwargs)


def model_arguments(model_config, vocabulary=None, **data_sizes):
    """Constructor arguments of the model a family config names, sized by the data.

    Every hyperparameter comes from `model_config` (a `vqa_tf.configs` family
    config), its question words as ids in `vocabulary`; of `data_sizes`
    (vocab_size, num_answers, grid_height, grid_width, feature_dim,
    max_question_length) the model gets those its constructor takes: a
    matching model has no answers, and only SMem-VQA has position weights
    sized by the question length.

    Examples:
    >>> from vqa_tf.configs import IBowImgConfig
    >>> arguments = model_arguments(IBowImgConfig(embedding_dim=16), vocab_size=50, num_answers=3,
    ...                             grid_height=2, grid_width=2, feature_dim=8, max_question_length=12)
    >>> sorted(arguments)  # no max_question_length: iBOWIMG's constructor does not take it
    ['dropout', 'embedding_dim', 'feature_dim', 'grid_height', 'grid_width', 'num_answers', 'vocab_size']
    """
    takes = inspect.signature(get_model_class(model_config.name)).parameters
    return {**model_config.arguments(vocabulary), **{k: v for k, v in data_sizes.items() if k in takes}}
