"""The training loop under every strategy, and what happens when runs are killed or go wrong."""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from training_runs import (
    SMALL_DAN,
    checkpoint_steps,
    command,
    env,
    max_difference,
    model_weights,
    program,
    run,
)

from vqa_tf.data.synthetic import TASKS
from vqa_tf.training import model_dir as files
from vqa_tf.training import restore_model
from vqa_tf.training.jit_policy import MEASURED_XLA_SPEEDUP
from vqa_tf.utils.ports import free_ports

STEPS = 8
# Float32 sums of the same numbers in another order differ in the last bits; after
# 8 SGD steps the weights of runs that saw the same global batches agree to this
# (measured: 1.3e-5 mirrored, through batch norm's cross-replica statistics).
TOLERANCE = 5e-5
# SGD, not the preset's Adam: Adam divides each gradient element by its own running
# magnitude, so an element whose gradient is ~0 moves by up to ±lr on that float noise
# alone (3.7e-4 after 8 steps through small_cnn's batch norm, which is synchronized:
# unsynchronized, the runs differ by 1.2e-2). On images, so that the pretrained
# backbone trains with the model under every strategy.
SGD = "optimizer.name=sgd,optimizer.learning_rate=0.01,data.input=images"


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("one_device"))
    done = run(command(model_dir, STEPS, "--strategy=one_device", override=SGD))
    assert done.returncode == 0, done.stderr[-3000:]
    return model_dir, done


@pytest.mark.slow
def test_one_device_run_writes_checkpoints_metrics_summaries_and_the_best_model(one_device_run):
    model_dir, done = one_device_run
    assert checkpoint_steps(model_dir)[-1] == STEPS
    metrics = json.load(open(os.path.join(model_dir, "metrics", f"eval_{STEPS:08d}.json")))
    assert set(metrics["accuracy_per_answer_type"]) == set(TASKS)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["num_questions"] == 64
    for key in (
        "pointing_accuracy_per_hop",
        "evidence_weight_per_hop",
        "attention_entropy_per_hop",
        "same_argmax_other_question_per_hop",
    ):
        assert len(metrics[key]["absolute_position"]) == 2 and len(metrics[key]["overall"]) == 2, key
    assert set(metrics["accuracy_per_question_type"]) == {"affirmative", "negated", "open"}
    crossed = metrics["accuracy_per_answer_and_question_type"]
    assert set(crossed) == set(TASKS) and set(crossed["color"]) == {"open"}
    for form, accuracy in metrics["accuracy_per_question_type"].items():  # a form's figure is a mean of its tasks'
        per_task = [forms[form] for forms in crossed.values() if form in forms]
        assert min(per_task) - 1e-9 <= accuracy <= max(per_task) + 1e-9, form
    assert os.path.exists(os.path.join(model_dir, "best.keras"))
    assert glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*"))
    assert "final evaluation: accuracy" in done.stdout


@pytest.mark.slow
def test_a_program_prints_one_line_per_report_and_no_tensorflow_start_up_chatter(one_device_run):
    _, done = one_device_run  # stdout and stderr are pipes, as in CI logs or `| tee`
    assert "\b" not in done.stdout and "\r" not in done.stdout
    reports = re.findall(r"^step (\d+)/8: loss [\d.]+, steps/s [\d.]+$", done.stdout, re.M)
    assert [int(step) for step in reports] == [2, 4, 6, 8]  # trainer.steps_per_loop=2
    assert re.search(r"^evaluation at step 8: accuracy [\d.]+; per answer type presence", done.stdout, re.M)
    for chatter in ("cudart_stub", "cpu_feature_guard", "oneDNN", "absl::InitializeLog", "cuInit", "I0000", "W0000"):
        assert chatter not in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(one_device_run, tmp_path):
    done = run(command(str(tmp_path), STEPS, "--strategy=mirrored", "--num_cpu_devices=2", override=SGD))
    assert done.returncode == 0, done.stderr[-3000:]
    assert max_difference(model_weights(str(tmp_path)), model_weights(one_device_run[0])) < TOLERANCE


@pytest.mark.slow
def test_two_worker_processes_match_one_device(one_device_run, tmp_path):
    workers = _start_workers([tmp_path / "worker0", tmp_path / "worker1"], STEPS, SGD)
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    chief = str(tmp_path / "worker0")
    assert checkpoint_steps(chief)[-1] == STEPS
    assert max_difference(model_weights(chief), model_weights(one_device_run[0])) < TOLERANCE


def _start_workers(model_dirs, steps, override, *flags):
    """Two `multi_worker` training processes on loopback, worker i in `model_dirs[i]` (worker 0 is the chief)."""
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
    workers = []
    for index, model_dir in enumerate(model_dirs):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        args = command(str(model_dir), steps, "--strategy=multi_worker", *flags, override=override)
        workers.append(
            subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(TF_CONFIG=tf_config)
            )
        )
    return workers


@pytest.mark.slow
def test_a_sigterm_to_one_worker_saves_every_worker_at_one_step_and_the_restart_resumes_there(tmp_path):
    """Both workers share one model_dir, as on a cluster; the restart is the cluster manager's: the same command."""
    steps, override = 300, SGD + ",trainer.checkpoint_every=1000,trainer.eval_every=1000"
    shared = [tmp_path, tmp_path]
    chief, other = _start_workers(shared, steps, override)
    seen = []
    while not any(re.match(r"step \d+/300", line) for line in seen):  # training has begun
        line = chief.stdout.readline()
        assert line, f"the chief ended first: {seen} {chief.communicate()[1][-3000:]}"
        seen.append(line)
    other.send_signal(signal.SIGTERM)
    outputs = [w.communicate(timeout=600) for w in (chief, other)]
    for worker, (_, stderr) in zip((chief, other), outputs):
        assert worker.returncode == 128 + signal.SIGTERM, stderr[-3000:]
        assert "preempted: every worker saved a checkpoint at step" in stderr
    stopped_at = checkpoint_steps(str(tmp_path))[-1]
    assert 0 < stopped_at < steps  # saved at the preemption, not at a scheduled checkpoint

    restarted = _start_workers(shared, steps, override)
    outputs = [w.communicate(timeout=600) for w in restarted]
    for worker, (_, stderr) in zip(restarted, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    assert f"at step {stopped_at}" in outputs[0][0] and "resumed from" in outputs[0][0]
    assert checkpoint_steps(str(tmp_path))[-1] == steps


@pytest.mark.slow
def test_a_job_restarted_after_a_worker_is_killed_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    """SIGKILL to one of two workers, as a lost machine; the cluster manager then restarts the job (both
    workers, the same command) once the survivor has stopped, or stops it. Under --deterministic the restart
    resumes from the last checkpoint, reads the batches the whole run read after it, and ends with its
    weights, exactly: every step counted once."""
    steps = 100  # several checkpoint intervals after the first, so that the kill lands mid-run
    override = SGD + ",trainer.checkpoint_every=20,trainer.eval_every=1000,data.shuffle=true,model.dropout=0.3"
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    chief, other = _start_workers([killed, killed], steps, override, "--deterministic")
    reached = _wait_for_checkpoint(str(killed), chief, at_least=20)
    other.send_signal(signal.SIGKILL)
    other.wait(timeout=60)
    try:  # the survivor's next collective fails once its peer is gone; a manager stops it if it hangs
        chief.wait(timeout=120)
    except subprocess.TimeoutExpired:
        chief.kill()
        chief.wait()
    assert chief.returncode != 0 and other.returncode == -signal.SIGKILL
    last = checkpoint_steps(str(killed))[-1]
    assert reached <= last < steps

    restarted = _start_workers([killed, killed], steps, override, "--deterministic")
    outputs = [w.communicate(timeout=600) for w in restarted]
    for worker, (_, stderr) in zip(restarted, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    assert f"resumed from {os.path.join(str(killed), 'checkpoints', f'ckpt-{last}')} at step {last}" in outputs[0][0]
    uninterrupted = _start_workers([whole, whole], steps, override, "--deterministic")
    for worker, (_, stderr) in zip(uninterrupted, [w.communicate(timeout=600) for w in uninterrupted]):
        assert worker.returncode == 0, stderr[-3000:]
    assert checkpoint_steps(str(killed))[-1] == checkpoint_steps(str(whole))[-1] == steps
    assert max_difference(model_weights(str(killed)), model_weights(str(whole))) == 0.0


def _wait_for_checkpoint(model_dir, process, at_least, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        steps = checkpoint_steps(model_dir)
        if steps and steps[-1] >= at_least:
            return steps[-1]
        assert process.poll() is None, "training ended before the checkpoint appeared"
        time.sleep(0.2)
    raise TimeoutError(f"no checkpoint at step {at_least} within {timeout}s")


@pytest.mark.slow
def test_a_deterministic_seed_reproduces_its_run_exactly_from_scratch(tmp_path):
    """Each run writes its own data, pretrains its own backbone and trains with dropout and shuffled batches."""
    dirs = [str(tmp_path / name) for name in ("first", "again", "other_seed")]
    for model_dir, seed in zip(dirs, (0, 0, 1)):
        done = run(
            command(
                model_dir, STEPS, "--deterministic", override=f"data.shuffle=true,model.dropout=0.3,trainer.seed={seed}"
            )
        )
        assert done.returncode == 0, done.stderr[-3000:]
    first, again, other = (model_weights(d) for d in dirs)
    assert max_difference(first, again) == 0.0
    assert max_difference(first, other) > 1e-3
    metrics = [json.load(open(os.path.join(d, "metrics", f"eval_{STEPS:08d}.json"))) for d in dirs[:2]]
    assert metrics[0] == metrics[1]


@pytest.mark.slow
def test_a_warm_start_copies_the_layers_of_the_same_name_from_another_run(tmp_path):
    one_hop, two_hop = str(tmp_path / "one_hop"), str(tmp_path / "two_hop")
    done = run(command(one_hop, 4, experiment="smem_one_hop_synthetic"))
    assert done.returncode == 0, done.stderr[-3000:]
    for name in (files.DATA_DIR, files.FEATURES_DIR, files.PRETRAINED_BACKBONE):  # the same data, as a warm start needs
        (shutil.copytree if os.path.isdir(os.path.join(one_hop, name)) else shutil.copy)(
            os.path.join(one_hop, name), os.path.join(two_hop, name)
        )
    # A zero learning rate keeps the copied weights as they came.
    done = run(
        command(two_hop, 1, override=f"trainer.init_model_dir={one_hop},optimizer.name=sgd,optimizer.learning_rate=0.0")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shared = ("word_embedding", "attention_embedding", "evidence_embedding_1", "question_vector", "answer_logits")
    assert f"initialised {', '.join(shared)} from {one_hop}" in done.stdout
    (_, source, _), (_, target, _) = restore_model(one_hop), restore_model(two_hop)
    for name in shared:
        for a, b in zip(source.core.get_layer(name).get_weights(), target.core.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(target.core.get_layer("evidence_embedding_2").get_weights()[0], 0.0)  # its own start


@pytest.mark.slow
def test_a_killed_run_resumes_and_finishes_with_the_weights_of_an_uninterrupted_one(tmp_path):
    """Under --deterministic, with shuffled batches and dropout: the resumed run reads the batches the whole run
    read after the checkpoint's step, and restores the dropout's random state with the model."""
    # Long enough that the kill lands before the end: a tiny model runs a checkpoint interval in milliseconds.
    steps = 400
    override = f"trainer.eval_every={steps},trainer.checkpoint_every=8,data.shuffle=true,model.dropout=0.3"
    killed_dir, whole_dir = str(tmp_path / "killed"), str(tmp_path / "whole")
    args = command(killed_dir, steps, "--deterministic", override=override)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env())
    reached = _wait_for_checkpoint(killed_dir, process, at_least=8)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    last = checkpoint_steps(killed_dir)[-1]
    assert reached <= last < steps
    resumed = run(args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {os.path.join(killed_dir, 'checkpoints', f'ckpt-{last}')} at step {last}" in resumed.stdout
    assert checkpoint_steps(killed_dir)[-1] == steps
    whole = run(command(whole_dir, steps, "--deterministic", override=override))
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert max_difference(model_weights(killed_dir), model_weights(whole_dir)) == 0.0
    killed_metrics = json.load(open(os.path.join(killed_dir, "metrics", f"eval_{steps:08d}.json")))
    whole_metrics = json.load(open(os.path.join(whole_dir, "metrics", f"eval_{steps:08d}.json")))
    assert killed_metrics == whole_metrics


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_at_the_current_step_and_exits(tmp_path):
    model_dir = str(tmp_path)
    args = command(model_dir, 400, override="trainer.checkpoint_every=1000")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    deadline = time.time() + 300
    while not glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-2000:]
    saved = checkpoint_steps(model_dir)
    assert len(saved) == 1 and 0 < saved[0] < 400
    assert f"SIGTERM: saved a checkpoint at step {saved[0]}" in stderr


@pytest.mark.slow
def test_training_hands_sigterm_back_when_it_returns(tmp_path):
    """After train() a program's own SIGTERM handling (or the default, exit) applies again: the quick
    start must still stop on SIGTERM while it exports and serves."""
    from training_runs import TINY

    from vqa_tf.configs import apply_overrides, get_experiment
    from vqa_tf.training import train

    def handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        train(apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{TINY},trainer.train_steps=2"), str(tmp_path))
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    # The learning rate jumps by 1e30 at step 6: the loss overflows right after.
    override = (
        "optimizer.name=sgd,optimizer.learning_rate=0.01,optimizer.decay_boundaries=[6],optimizer.decay_factor=1e30"
    )
    done = run(command(model_dir, 40, override=override))
    assert done.returncode == 1
    assert re.search(
        r"^error: the training loss became (nan|inf|finite, but the weights not) between steps \d+ and \d+; stopping",
        done.stderr,
        re.M,
    )
    assert "The last good checkpoint is kept" in done.stderr
    saved = checkpoint_steps(model_dir)
    assert saved and saved[-1] <= 8
    weights = model_weights(model_dir)
    assert all(bool(np.isfinite(v).all()) for v in weights.values())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--experiment=smem"], "error: unknown experiment 'smem'; valid names: ibowimg_synthetic"),
        (
            ["--experiment=smem_two_hop_synthetic", "--params_override=trainer.steps=1"],
            "'steps' is not a field in 'trainer'; valid: train_steps",
        ),
        (["--experiment=mdan_synthetic"], "is a matching task; use vqa-train-matching"),
    ],
)
def test_bad_experiment_names_and_overrides_list_the_valid_ones(tmp_path, args, message):
    done = run([*program("trainers.train_vqa"), f"--model_dir={tmp_path}", *args], timeout=120)
    assert done.returncode == 1
    assert message in done.stderr


@pytest.mark.slow
def test_mixed_precision_and_xla_train_and_evaluate(tmp_path):
    done = run(
        command(str(tmp_path), 4, "--mixed_precision", "--jit_compile", experiment="rdan_synthetic", model=SMALL_DAN)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # XLA was measured slower on CPU: the explicit flag is obeyed, and its cost said once.
    measured = MEASURED_XLA_SPEEDUP["CPU"]["reasoning_dan"]
    assert done.stderr.count(f"{measured:.2f}× as fast with XLA as without it") == 1, done.stderr[-3000:]
    assert checkpoint_steps(str(tmp_path))[-1] == 4
    assert done.stdout.count("precision: mixed_bfloat16 (runtime.mixed_precision is on)") == 1
    runtime = json.load(open(os.path.join(str(tmp_path), "config.json")))["runtime"]
    assert runtime["mixed_precision"] == "on" and runtime["jit_compile"] == "on"
    metrics = json.load(open(os.path.join(str(tmp_path), "metrics", "eval_00000004.json")))
    assert metrics["num_questions"] == 64


@pytest.mark.slow
def test_matching_binary_trains_and_reports_recall(tmp_path):
    done = run(
        command(
            str(tmp_path),
            4,
            binary="trainers.train_matching",
            experiment="mdan_synthetic",
            model=SMALL_DAN,
            override="data.num_train=64,data.num_eval=32",
        )
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "text_to_image: R@1" in done.stdout
    metrics = json.load(open(os.path.join(str(tmp_path), "metrics", "eval_00000004.json")))
    assert metrics["gallery_images"] == 32


@pytest.mark.slow
def test_evaluate_and_attention_figures_binaries(one_device_run, tmp_path):
    model_dir = one_device_run[0]
    output = str(tmp_path / "evaluation.json")
    done = run([*program("trainers.evaluate"), f"--model_dir={model_dir}", f"--output={output}"])
    assert done.returncode == 0, done.stderr[-3000:]
    evaluated = json.load(open(output))
    trained = json.load(open(os.path.join(model_dir, "metrics", f"eval_{STEPS:08d}.json")))
    assert evaluated["accuracy"] == trained["accuracy"]
    figures = str(tmp_path / "figures")
    done = run(
        [
            *program("trainers.attention_figures"),
            f"--model_dir={model_dir}",
            "--num_examples=3",
            f"--output_dir={figures}",
        ]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pngs = sorted(os.listdir(figures))
    assert len(pngs) == 3 and all(open(os.path.join(figures, p), "rb").read(4) == b"\x89PNG" for p in pngs)
