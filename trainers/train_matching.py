r"""Trains an image-text matching experiment (m-DAN) under any tf.distribute strategy.

    vqa-train-matching --experiment=mdan_synthetic --model_dir=/tmp/mdan
    vqa-train-matching --experiment=mdan_resnet152_flickr30k --model_dir=… \
        --train_data=dataset_flickr30k.json --train_images=/data/flickr30k \
        --train_features=/features/flickr30k --eval_features=/features/flickr30k

Rerunning the same command resumes from the last checkpoint.
"""

from vqa_tf import cli
from vqa_tf.training.flags import define_training_flags, training_main
from vqa_tf.training.matching_task import MatchingTask

define_training_flags()
main = training_main("matching", "vqa-train-vqa", MatchingTask.describe)


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
