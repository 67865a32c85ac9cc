"""Trains a VQA experiment (SMem-VQA, r-DAN, iBOWIMG) under any tf.distribute strategy.

    vqa-train-vqa --experiment=smem_two_hop_synthetic --model_dir=/tmp/smem
    vqa-train-vqa --experiment=rdan_resnet152_vqa --model_dir=gs://… --strategy=mirrored \
        --train_data=… --train_annotations=… --train_features=… --eval_data=… --eval_features=…

Rerunning the same command resumes from the last checkpoint.
"""

from trainers import cli

cli.define_training_flags()


def run():
    cli.run(cli.training_main("vqa", "vqa-train-matching", cli.report_vqa))


if __name__ == "__main__":
    run()
