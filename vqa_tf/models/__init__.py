"""vqa_tf models: SMem-VQA, r-DAN, m-DAN and the iBOWIMG baseline.

Importing this package registers every model and layer class with Keras, so
`keras.saving.load_model` can read `.keras` files that hold them.
"""

from vqa_tf.models.ibowimg import IBowImg
from vqa_tf.models.matching_dan import MatchingDAN
from vqa_tf.models.multimodal_model import MultimodalModel, with_backbone
from vqa_tf.models.reasoning_dan import ReasoningDAN
from vqa_tf.models.registry import MODELS, build_model, get_model_class, model_arguments
from vqa_tf.models.smem_vqa import SMemVQA

__all__ = [
    "IBowImg",
    "MODELS",
    "MatchingDAN",
    "MultimodalModel",
    "ReasoningDAN",
    "SMemVQA",
    "build_model",
    "get_model_class",
    "model_arguments",
    "with_backbone",
]
