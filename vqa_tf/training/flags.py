"""The absl flags every training program shares, and the config they select."""

from absl import flags

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.training.distribution import STRATEGIES
from vqa_tf.training.loop import train

FLAGS = flags.FLAGS
RUNTIME_FLAGS = ("strategy", "mixed_precision", "jit_compile", "tpu", "num_cpu_devices", "deterministic")
DATA_FLAGS = (
    "train_data",
    "train_annotations",
    "train_images",
    "train_features",
    "eval_data",
    "eval_annotations",
    "eval_images",
    "eval_features",
)
DATA_FLAG_HELP = {
    "data": "The VQA question JSON, the DAQUAR QA file or the Karpathy caption JSON.",
    "annotations": "The VQA annotation JSON.",
    "images": "VQA: an image path pattern with an {image_id} field, such as "
    "/data/train2014/COCO_train2014_{image_id:012d}.jpg (a directory alone is refused); DAQUAR: the "
    "image directory; Karpathy: the images' root directory.",
    "features": "A feature store directory written by vqa-extract-features (data.input=features).",
}


def define_training_flags():
    """--experiment, --model_dir, --params_override, the runtime flags and the data locations."""
    flags.DEFINE_string("experiment", None, "A registered experiment name (vqa_tf.configs.EXPERIMENTS).")
    flags.DEFINE_string(
        "model_dir",
        None,
        "Where checkpoints, summaries, metrics and the best model go "
        "(a local path or any URL tf.io.gfile reads, such as gs://bucket/run).",
    )
    flags.DEFINE_string("params_override", None, "section.field=value,… or a JSON file of nested sections.")
    flags.DEFINE_enum("strategy", None, list(STRATEGIES), "tf.distribute strategy.")
    flags.DEFINE_bool(
        "mixed_precision",
        None,
        "Train in mixed_bfloat16 (--nomixed_precision: in float32); without either, runtime.mixed_precision "
        "decides (default 'auto': bfloat16 where the device has it natively and the model was measured "
        "at float32's accuracy in it).",
    )
    flags.DEFINE_bool(
        "jit_compile",
        None,
        "XLA-compile the training step (--nojit_compile: never); without either, "
        "runtime.jit_compile decides (default 'auto': XLA only where it was measured faster).",
    )
    flags.DEFINE_string("tpu", None, "TPU name or address (strategy tpu).")
    flags.DEFINE_integer("num_cpu_devices", None, "Split the CPU into this many devices (mirrored without GPUs).")
    flags.DEFINE_bool("deterministic", None, "TensorFlow op determinism: a seed reproduces its run exactly.")
    for name in DATA_FLAGS:
        flags.DEFINE_string(name, None, f"Overrides data.{name}. {DATA_FLAG_HELP[name[name.index('_') + 1 :]]}")
    flags.mark_flags_as_required(["experiment", "model_dir"])


def config_from_flags():
    """The experiment config: registered defaults, then --params_override, then the explicit flags."""
    config = get_experiment(FLAGS.experiment)
    apply_overrides(config, FLAGS.params_override)
    for name in RUNTIME_FLAGS:
        value = getattr(FLAGS, name)
        if value is not None:
            on_off = name in ("jit_compile", "mixed_precision")
            setattr(config.runtime, name, {True: "on", False: "off"}[value] if on_off else value)
    for name in DATA_FLAGS:
        if getattr(FLAGS, name) is not None:
            setattr(config.data, name, getattr(FLAGS, name))
    return config


def training_main(task, other_program, summary):
    """The `main` of a training program: trains the experiment the flags select and prints `summary(metrics)`.

    The experiment must be a `task` one ("vqa" or "matching"); another is
    refused with the name of `other_program`. Only the chief prints.
    """

    def main(argv):
        del argv
        config = config_from_flags()
        if config.task != task:
            raise ValueError(f"experiment {FLAGS.experiment!r} is a {config.task} task; use {other_program}")
        metrics = train(config, FLAGS.model_dir)
        if metrics is not None:  # None on workers other than the chief
            print(summary(metrics))

    return main
