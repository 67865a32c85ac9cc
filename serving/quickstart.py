"""The package's main job, end to end on the embedded synthetic data, on CPU.

    vqa-quickstart                       # SMem two-hop in runs/smem, exported to runs/smem/exports
    vqa-quickstart --experiment=smem_one_hop_synthetic --model_dir=runs/smem1 --num_questions=400

1. trains the experiment (a rerun resumes, or just re-evaluates a finished run) and evaluates it;
2. exports the latest checkpoint as a new SavedModel version under --export_base;
3. starts the local model server (`vqa-model-server`) on free loopback ports;
4. sends the held-out questions with their image bytes over gRPC, prints questions, answers and
   the served answers' VQA accuracy per question type (next to the in-process evaluation's);
5. draws attention figures from the served attention maps; then stops the server.
"""

import os

import numpy as np
from absl import flags

from export import export_lib
from serving.errors import ServingError
from serving.server_process import LocalServerProcess
from trainers import cli, train_lib
from trainers.tasks import make_task
from vqa_tf.metrics import evaluate_vqa
from vqa_tf.vision.image_ops import decode_image
from vqa_tf.visualization import render_attention_figure

cli.define_training_flags()
flags.FLAGS.set_default("experiment", "smem_two_hop_synthetic")
flags.FLAGS.set_default("model_dir", "runs/smem")
flags.DEFINE_string("export_base", None, "Where versions are exported (default: <model_dir>/exports).")
flags.DEFINE_string("model_name", "smem", "Name the local server serves the model under.")
flags.DEFINE_integer("num_questions", None, "How many held-out questions to send over gRPC (default: all).")
flags.DEFINE_integer("num_shown", 12, "How many of them to print.")
flags.DEFINE_integer("num_figures", 12, "How many attention figures to draw.")
flags.DEFINE_integer("batch_size", 16, "Questions per Predict request.")
FLAGS = flags.FLAGS


def ask(client, model_name, version, examples, batch_size):
    """Served (answers, attention) for the examples, batch_size questions per Predict call."""
    answers, attention = [], []
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        images = []
        for example in batch:
            with open(example.image_path, "rb") as f:
                images.append(f.read())
        out = client.predict(model_name, {"question": [e.question for e in batch], "image": images}, version=version)
        answers += [a.decode() for a in out["answer"]]
        attention.append(out["attention"])
    return answers, np.concatenate(attention)


def main(argv):
    del argv
    config = cli.config_from_flags()
    if config.task != "vqa":
        raise ValueError(f"experiment {FLAGS.experiment!r} is a {config.task} task; the quick start answers questions")
    model_dir = FLAGS.model_dir
    print(f"1/5 training {FLAGS.experiment} in {model_dir} (a rerun resumes)")
    evaluation = train_lib.train(config, model_dir)
    cli.report_vqa(evaluation)

    export_base = FLAGS.export_base or os.path.join(model_dir, "exports")
    path = export_lib.export(model_dir, export_base)
    version = int(os.path.basename(path))
    print(f"2/5 exported {path}")

    log_path = os.path.join(model_dir, "model_server.log")
    server = LocalServerProcess(FLAGS.model_name, export_base, log_path)
    try:
        server.wait_until_serving(version)
        print(f"3/5 local model server at {server.grpc_address} serves {FLAGS.model_name!r} version {version} "
              f"(log: {log_path})")
        examples = make_task(config, model_dir).eval_examples[:FLAGS.num_questions]
        answers, attention = ask(server.grpc, FLAGS.model_name, version, examples, FLAGS.batch_size)
    finally:
        server.stop()

    print(f"4/5 {len(examples)} held-out questions answered over gRPC:")
    shown = list(zip(examples, answers))[:FLAGS.num_shown]
    width = max((len(e.question) for e, _ in shown), default=0)
    for example, answer in shown:
        print(f"  Q: {example.question:<{width}}  A: {answer:<5} expected: {example.answers[0]}")
    metrics = evaluate_vqa({e.question_id: a for e, a in zip(examples, answers)}, examples)
    per_type = ", ".join(f"{k} {v:.4f}" for k, v in metrics["per_answer_type"].items())
    print(f"  served accuracy {metrics['overall']:.4f} ({per_type})")
    if len(examples) == evaluation["num_questions"]:
        print(f"  in-process evaluation of the same checkpoint: {evaluation['accuracy']:.4f}")

    figures = os.path.join(model_dir, "served_attention_figures")
    os.makedirs(figures, exist_ok=True)
    for example, answer, maps in list(zip(examples, answers, attention))[:FLAGS.num_figures]:
        with open(example.image_path, "rb") as f:
            image = decode_image(f.read()).numpy()
        render_attention_figure(image, example.question, answer, maps,
                                os.path.join(figures, f"question_{example.question_id}.png"), example.answers[0])
    print(f"5/5 wrote {min(FLAGS.num_figures, len(examples))} attention figures to {figures}")


def run():
    cli.run(main, errors=(ServingError, TimeoutError, RuntimeError))


if __name__ == "__main__":
    run()
