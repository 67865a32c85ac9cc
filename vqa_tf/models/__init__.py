"""vqa_tf models: SMem-VQA, r-DAN, m-DAN and the iBOWIMG baseline."""

from vqa_tf.models.ibowimg import IBowImg
from vqa_tf.models.matching_dan import MatchingDAN
from vqa_tf.models.multimodal_model import MultimodalModel, with_backbone
from vqa_tf.models.paper_settings import PAPER_SETTINGS
from vqa_tf.models.reasoning_dan import ReasoningDAN
from vqa_tf.models.registry import MODELS, build_model, get_model_class
from vqa_tf.models.smem_vqa import SMemVQA

__all__ = [
    "IBowImg",
    "MODELS",
    "MatchingDAN",
    "MultimodalModel",
    "PAPER_SETTINGS",
    "ReasoningDAN",
    "SMemVQA",
    "build_model",
    "get_model_class",
    "with_backbone",
]
