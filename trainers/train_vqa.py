r"""Trains a VQA experiment (SMem-VQA, r-DAN, iBOWIMG) under any tf.distribute strategy.

    vqa-train-vqa --experiment=smem_two_hop_synthetic --model_dir=/tmp/smem
    vqa-train-vqa --experiment=rdan_resnet152_vqa --model_dir=gs://bucket/runs/rdan --strategy=mirrored \
        --train_data=… --train_annotations=… --train_features=… --eval_data=… --eval_features=…

Rerunning the same command resumes from the last checkpoint.
"""

from vqa_tf import cli
from vqa_tf.training.flags import define_training_flags, training_main
from vqa_tf.training.vqa_task import VQATask

define_training_flags()
main = training_main("vqa", "vqa-train-matching", lambda metrics: f"final evaluation: {VQATask.describe(metrics)}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
