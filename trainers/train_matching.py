"""Trains an image-text matching experiment (m-DAN) under any tf.distribute strategy.

    vqa-train-matching --experiment=mdan_synthetic --model_dir=/tmp/mdan
    vqa-train-matching --experiment=mdan_resnet152_flickr30k --model_dir=… \
        --train_data=dataset_flickr30k.json --train_images=/data/flickr30k \
        --train_features=/features/flickr30k --eval_features=/features/flickr30k

Rerunning the same command resumes from the last checkpoint.
"""

from trainers import cli

cli.define_training_flags()


def report(metrics):
    for direction in ("image_to_text", "text_to_image"):
        m = metrics[direction]
        print(f"{direction}: R@1 {m['r@1']:.4f} R@5 {m['r@5']:.4f} R@10 {m['r@10']:.4f} "
              f"median rank {m['median_rank']:.0f}")


def run():
    cli.run(cli.training_main("matching", "vqa-train-vqa", report))


if __name__ == "__main__":
    run()
