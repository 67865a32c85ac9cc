"""Training: tasks (config → data, model, loss, evaluation), the one tf.distribute loop, the model_dir.

from vqa_tf.configs import get_experiment
from vqa_tf.training import train
metrics = train(get_experiment("smem_two_hop_synthetic"), "runs/smem")   # resumes if rerun
"""

from vqa_tf.training.evaluation import evaluate_and_record, restore_for_evaluation
from vqa_tf.training.loop import NaNLossError, make_train_step, train
from vqa_tf.training.model_dir import restore_model
from vqa_tf.training.modeling import ModelParts, build_model_parts, paper_model_arguments
from vqa_tf.training.tasks import make_task, training_loss

__all__ = [
    "ModelParts",
    "NaNLossError",
    "build_model_parts",
    "evaluate_and_record",
    "make_task",
    "make_train_step",
    "paper_model_arguments",
    "restore_for_evaluation",
    "restore_model",
    "train",
    "training_loss",
]
