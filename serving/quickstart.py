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
import socket
import subprocess
import sys

import numpy as np
from absl import flags

from export import export_lib
from serving.clients import GrpcClient
from serving.errors import ServingError
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(export_base, model_name, log_path):
    """The local model server as a separate process; returns (process, gRPC address)."""
    port = free_port()
    command = [sys.executable, "-m", "serving.model_server", f"--port={port}", f"--model_name={model_name}",
               f"--model_base_path={os.path.abspath(export_base)}"]
    with open(log_path, "w") as log:  # the server process keeps its own handle
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    return process, f"127.0.0.1:{port}"


def wait_for(process, log_path, client, model_name, version, timeout=300):
    """Waits until the server serves `version`; fails early, naming the log, if the server exits."""
    for _ in range(timeout // 5):
        if process.poll() is not None:
            raise RuntimeError(f"the model server exited with status {process.returncode}; see {log_path}")
        try:
            return client.wait_until_available(model_name, version, timeout=5)
        except TimeoutError:
            continue
    raise TimeoutError(f"the model server did not serve version {version} within {timeout} s")


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
    process, address = start_server(export_base, FLAGS.model_name, log_path)
    client = GrpcClient(address)
    try:
        wait_for(process, log_path, client, FLAGS.model_name, version)
        print(f"3/5 local model server at {address} serves {FLAGS.model_name!r} version {version} (log: {log_path})")
        examples = make_task(config, model_dir).eval_examples[:FLAGS.num_questions]
        answers, attention = ask(client, FLAGS.model_name, version, examples, FLAGS.batch_size)
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=60)

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
