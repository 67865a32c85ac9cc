"""Model names used by configs and command lines, mapped to their classes."""

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
        raise KeyError(
            f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}"
        ) from None


def build_model(name, **kwargs):
    """`get_model_class(name)(**kwargs)`."""
    return get_model_class(name)(**kwargs)
