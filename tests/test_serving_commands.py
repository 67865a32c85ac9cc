"""The serving commands as a user runs them: `vqa-predict` and the quick start's `vqa-quickstart`."""

import os
import re

import pytest
from serving_servers import MODEL
from training_runs import SMALL_DAN, TINY_RUN, program, run

from vqa_tf.data.synthetic import TASKS

pytestmark = pytest.mark.slow


def _predict(*args):
    return run([*program("serving.predict"), *args], timeout=300)


def _image_files(task, count=2):
    return [e.image_path for e in task.eval_examples[:count]]


@pytest.mark.parametrize("transport", ["server", "rest_server"])
def test_vqa_predict_answers_over_the_server_and_draws_attention(server, reference, task, transport, tmp_path):
    inputs, expected = reference
    images = _image_files(task)
    port = server.grpc_port if transport == "server" else server.rest_port
    done = _predict(
        f"--{transport}=127.0.0.1:{port}",
        f"--model_name={MODEL}",
        *[f"--image={p}" for p in images],
        *[f"--question={q}" for q in inputs["question"][:2]],
        f"--attention_dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
    assert [(path, question, answer) for path, question, answer, _ in lines] == [
        (p, q, a.decode()) for p, q, a in zip(images, inputs["question"][:2], expected["answer"][:2])
    ]
    figures = sorted(os.listdir(tmp_path))
    assert len(figures) == 2 and all(open(tmp_path / f, "rb").read(4) == b"\x89PNG" for f in figures)


def test_vqa_predict_in_process_pairs_one_image_with_each_question(smem_export, reference, task):
    inputs, expected = reference
    image = task.eval_examples[0].image_path
    done = _predict(
        f"--saved_model={smem_export[1]}",
        f"--image={image}",
        f"--question={inputs['question'][0]}",
        "--question=is there a blue circle?",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
    assert [line[0] for line in lines] == [image, image]
    assert lines[0][2] == expected["answer"][0].decode() and lines[1][2] in task.answers.answers


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--image=/no/such/image.png", "--question=is there a red square?"],
            "image file /no/such/image.png not found",
        ),
        (["--question=a?", "--question=b?", "--question=c?"], "got 2 images and 3 questions"),
        (["--question="], "a question has no words"),
    ],
)
def test_vqa_predict_reports_bad_input_in_one_line(smem_export, task, args, message):
    images = [f"--image={p}" for p in _image_files(task)] if not args[0].startswith("--image") else []
    done = _predict(f"--saved_model={smem_export[1]}", *images, *args)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_the_quick_start_trains_exports_serves_and_answers_over_grpc(tmp_path):
    model_dir = tmp_path / "rdan"
    done = run(
        [
            *program("serving.quickstart"),
            f"--model_dir={model_dir}",
            "--num_questions=64",
            f"--params_override={TINY_RUN},{SMALL_DAN},trainer.train_steps=8",
        ],
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    trained = float(re.search(r"final evaluation: accuracy ([\d.]+)", out).group(1))
    served = float(re.search(r"served accuracy ([\d.]+)", out).group(1))
    assert served == pytest.approx(trained, abs=1e-4)  # 64 held-out questions, the same checkpoint, two paths
    # Without counting: the mean over the other types' questions (question i asks task i mod len(TASKS)).
    per_type = dict(re.findall(r"(\w+) ([\d.]+)", re.search(r"served accuracy [\d.]+ \((.*)\)", out).group(1)))
    counts = {t: sum(1 for i in range(64) if TASKS[i % len(TASKS)] == t) for t in TASKS}
    expected = sum(counts[t] * float(per_type[t]) for t in TASKS if t != "count") / (64 - counts["count"])
    without = float(re.search(r"served accuracy without the counting questions ([\d.]+)", out).group(1))
    assert without == pytest.approx(expected, abs=1e-3)
    assert re.search(r"exported .*exports/1\n", out) and "64 held-out questions answered over gRPC" in out
    assert len(re.findall(r"^  Q: .* A: \S+ +expected: \S+$", out, re.M)) == 12
    assert f"in-process evaluation of the same checkpoint: {trained:.4f}" in out
    assert len(os.listdir(model_dir / "served_attention_figures")) == 12
    # A second run resumes (nothing left to train), exports version 2 and serves it.
    again = run(
        [
            *program("serving.quickstart"),
            f"--model_dir={model_dir}",
            "--num_questions=8",
            "--num_figures=0",
            f"--params_override={TINY_RUN},{SMALL_DAN},trainer.train_steps=8",
        ],
        timeout=900,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "serves 'rdan' version 2" in again.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model_base_path=/tmp/a", "--model_config_file=/tmp/b"], "give exactly one of --model_base_path"),
        (
            ["--model_base_path=/tmp/a", "--batching_parameters_file=/tmp/b"],
            "--batching_parameters_file needs --enable_batching",
        ),
        (["--model_config_file=/no/such/models.config"], "cannot read the model config file /no/such/models.config"),
    ],
)
def test_the_model_server_refuses_contradictory_flags_in_one_line(args, message):
    done = run([*program("serving.model_server"), *args], timeout=120)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
