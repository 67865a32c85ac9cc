"""The package's main job, end to end on the embedded synthetic data, on CPU.

    vqa-quickstart                       # r-DAN (rdan_supervised_synthetic) in runs/rdan, exported to runs/rdan/exports
    vqa-quickstart --experiment=smem_two_hop_synthetic --model_dir=runs/smem --model_name=smem --num_questions=400

1. trains the experiment (a rerun resumes, or just re-evaluates a finished run) and evaluates it;
2. exports the latest checkpoint as a new SavedModel version under --export_base;
3. starts the local model server (`vqa-model-server`) on free loopback ports;
4. sends the held-out questions with their image bytes over gRPC, prints questions, answers and
   the served answers' VQA accuracy per question type (next to the in-process evaluation's), and
   without the counting questions, which soft attention cannot answer well;
5. draws attention figures from the served attention maps; then stops the server.
"""

import os
import posixpath

import numpy as np
import tensorflow as tf
from absl import flags

from vqa_tf import cli
from vqa_tf.export import export
from vqa_tf.metrics import evaluate_vqa
from vqa_tf.serving import LocalServerProcess
from vqa_tf.training import make_task, train
from vqa_tf.training.flags import config_from_flags, define_training_flags
from vqa_tf.training.vqa_task import VQATask
from vqa_tf.vision import decode_image
from vqa_tf.visualization import render_attention_figure

define_training_flags()
flags.FLAGS.set_default("experiment", "rdan_supervised_synthetic")
flags.FLAGS.set_default("model_dir", "runs/rdan")
flags.DEFINE_string("export_base", None, "Where versions are exported (default: <model_dir>/exports).")
flags.DEFINE_string("model_name", "rdan", "Name the local server serves the model under.")
flags.DEFINE_integer("num_questions", None, "How many held-out questions to send over gRPC (default: all).")
flags.DEFINE_integer("num_shown", 12, "How many of them to print.")
flags.DEFINE_integer("num_figures", 12, "How many attention figures to draw.")
flags.DEFINE_integer("batch_size", 16, "Questions per Predict request.")
FLAGS = flags.FLAGS


def ask(client, model_name, version, examples, batch_size):
    """Served (answers, attention) for the examples, batch_size questions per Predict call."""
    answers, attention = [], []
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        images = [tf.io.read_file(example.image_path).numpy() for example in batch]
        out = client.predict(model_name, {"question": [e.question for e in batch], "image": images}, version=version)
        answers += [a.decode() for a in out["answer"]]
        attention.append(out["attention"])
    return answers, np.concatenate(attention)


def main(argv):
    del argv
    config = config_from_flags()
    if config.task != "vqa":
        raise ValueError(f"experiment {FLAGS.experiment!r} is a {config.task} task; the quick start answers questions")
    model_dir = FLAGS.model_dir
    print(f"1/5 training {FLAGS.experiment} in {model_dir} (a rerun resumes)", flush=True)
    evaluation = train(config, model_dir)
    print(f"final evaluation: {VQATask.describe(evaluation)}")

    export_base = FLAGS.export_base or posixpath.join(model_dir, "exports")
    path = export(model_dir, export_base)
    version = int(posixpath.basename(path))
    print(f"2/5 exported {path}", flush=True)

    log_path = os.path.join(model_dir, "model_server.log")
    server = LocalServerProcess(FLAGS.model_name, export_base, log_path)
    try:
        server.wait_until_serving(version)
        print(
            f"3/5 local model server at {server.grpc_address} serves {FLAGS.model_name!r} version {version} "
            f"(log: {log_path})",
            flush=True,
        )
        examples = make_task(config, model_dir).eval_examples[: FLAGS.num_questions]
        answers, attention = ask(server.grpc, FLAGS.model_name, version, examples, FLAGS.batch_size)
    finally:
        server.stop()

    print(f"4/5 {len(examples)} held-out questions answered over gRPC:")
    shown = list(zip(examples, answers))[: FLAGS.num_shown]
    width = max((len(e.question) for e, _ in shown), default=0)
    for example, answer in shown:
        print(f"  Q: {example.question:<{width}}  A: {answer:<5} expected: {example.majority_answer}")
    metrics = evaluate_vqa({e.question_id: a for e, a in zip(examples, answers)}, examples)
    per_type = ", ".join(f"{k} {v:.4f}" for k, v in metrics["per_answer_type"].items())
    print(f"  served accuracy {metrics['overall']:.4f} ({per_type})")
    uncounted = [(e, a) for e, a in zip(examples, answers) if e.answer_type != "count"]
    if 0 < len(uncounted) < len(examples):  # soft attention averages away how many things it sees
        without = evaluate_vqa({e.question_id: a for e, a in uncounted}, [e for e, _ in uncounted])["overall"]
        print(f"  served accuracy without the counting questions {without:.4f}")
    if len(examples) == evaluation["num_questions"]:
        print(f"  in-process evaluation of the same checkpoint: {evaluation['accuracy']:.4f}")

    figures = posixpath.join(model_dir, "served_attention_figures")
    for example, answer, maps in list(zip(examples, answers, attention))[: FLAGS.num_figures]:
        image = decode_image(tf.io.read_file(example.image_path)).numpy()
        render_attention_figure(
            image,
            example.question,
            answer,
            maps,
            posixpath.join(figures, f"question_{example.question_id}.png"),
            example.majority_answer,
        )
    print(f"5/5 wrote {min(FLAGS.num_figures, len(examples))} attention figures to {figures}")


def run():
    cli.run(main, errors=(TimeoutError, RuntimeError))


if __name__ == "__main__":
    run()
