"""Trains a VQA experiment (SMem-VQA, r-DAN, iBOWIMG) under any tf.distribute strategy.

    vqa-train-vqa --experiment=smem_two_hop_synthetic --model_dir=/tmp/smem
    vqa-train-vqa --experiment=rdan_resnet152_vqa --model_dir=gs://… --strategy=mirrored \
        --train_data=… --train_annotations=… --train_features=… --eval_data=… --eval_features=…

Rerunning the same command resumes from the last checkpoint.
"""

from absl import flags

from trainers import cli, train_lib

cli.define_training_flags()


def main(argv):
    del argv
    config = cli.config_from_flags()
    if config.task != "vqa":
        raise ValueError(f"experiment {flags.FLAGS.experiment!r} is a {config.task} task; use vqa-train-matching")
    cli.save_or_check_config(config, flags.FLAGS.model_dir)
    metrics = train_lib.train(config, flags.FLAGS.model_dir)
    if metrics is not None:
        print(f"final evaluation: accuracy {metrics['accuracy']:.4f}; per answer type "
              + ", ".join(f"{k} {v:.4f}" for k, v in metrics["accuracy_per_answer_type"].items()))


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
