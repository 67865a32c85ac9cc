"""Trains an image-text matching experiment (m-DAN) under any tf.distribute strategy.

    vqa-train-matching --experiment=mdan_synthetic --model_dir=/tmp/mdan
    vqa-train-matching --experiment=mdan_resnet152_flickr30k --model_dir=… \
        --train_data=dataset_flickr30k.json --train_images=/data/flickr30k \
        --train_features=/features/flickr30k --eval_features=/features/flickr30k

Rerunning the same command resumes from the last checkpoint.
"""

from absl import flags

from trainers import cli, train_lib

cli.define_training_flags()


def main(argv):
    del argv
    config = cli.config_from_flags()
    if config.task != "matching":
        raise ValueError(f"experiment {flags.FLAGS.experiment!r} is a {config.task} task; use vqa-train-vqa")
    cli.save_or_check_config(config, flags.FLAGS.model_dir)
    metrics = train_lib.train(config, flags.FLAGS.model_dir)
    if metrics is not None:
        for direction in ("image_to_text", "text_to_image"):
            m = metrics[direction]
            print(f"{direction}: R@1 {m['r@1']:.4f} R@5 {m['r@5']:.4f} R@10 {m['r@10']:.4f} "
                  f"median rank {m['median_rank']}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
