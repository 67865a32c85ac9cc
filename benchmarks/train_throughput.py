"""Training throughput at the papers' sizes, as a fraction of the same run's dense matmul rate.

For SMem two-hop, r-DAN and m-DAN at their paper presets' sizes (the papers' own;
features as input; each preset's batch; a 25-token question), one run
measures the examples/s of

* `loop`: the package's training steps (`vqa_tf.training.make_train_step`,
  the steps `train()` runs, inside one graph call), float32, no XLA;
* `loop_xla`: the same step with `jit_compile` on;
* `loop_bf16`: the same step under mixed_bfloat16;
* `fit`: Keras `model.fit` on one device, the reference: the same model,
  loss (with the preset's L2 penalty), optimizer and gradient clip, Keras'
  own train step and optimizer, `jit_compile=False`; timed between the ends
  of steps inside one `fit` call, so fit's set-up is not counted;

and, before and after each model, a dense float32 matmul of the model's
largest product ([batch × regions, channels] × [channels, width]). A mode's
achieved FLOP/s is its training FLOPs per example × examples/s, where the
training FLOPs are the matrix products of the step's graph (`graph_flops`:
forward and backward, without the gradients no variable needs, such as the
image features'); it is given as a fraction of the faster of the two matmul
timings. Element-wise work (LSTM gates, softmax, the optimizer update) is
not counted, so a fraction below 1 includes it.

Then the synthetic recipe's step (`smem_two_hop_synthetic`'s model, grid and batch) is timed with one
step per Python call and with `--recipe_steps` steps in one graph call.

Each mode: a fresh model, `--warmup` steps (tracing, compiling), then
`--repeats` timings of `--steps` steps on one fixed batch; the median is
kept. The loop's data comes from `strategy.distribute_datasets_from_function`
over an in-memory batch, as `train()` iterates it.

Usage: python benchmarks/train_throughput.py [--output benchmarks/results/train_throughput.md]
"""

import argparse
import dataclasses
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_flops import matmul_flops
from machine import command_line, write_results

from vqa_tf.configs import PAPER_EXPERIMENTS, RuntimeConfig, get_experiment
from vqa_tf.models import build_model
from vqa_tf.training import build_model_parts, make_train_step, paper_model_arguments, training_loss
from vqa_tf.training.distribution import make_strategy
from vqa_tf.training.jit_policy import device_type, resolve_jit_compile
from vqa_tf.training.optimization import build_optimizer, learning_rate_schedule

MODELS = ("smem_vqa", "reasoning_dan", "matching_dan")
MODES = ("loop", "loop_xla", "loop_bf16", "fit")
QUESTION_LENGTH = 25
STEPS_PER_EPOCH = 1000  # for the presets' learning-rate schedules; the rate does not change the cost


def synthetic_batch(config, settings, batch, seed=0, length=QUESTION_LENGTH):
    """(inputs, targets) of one batch at the model's sizes: random grids and `length`-token questions."""
    rng = np.random.default_rng(seed)
    inputs = {
        "image_features": rng.standard_normal(
            (batch, settings["grid_height"], settings["grid_width"], settings["feature_dim"])
        ).astype(np.float32),
        "token_ids": rng.integers(1, settings["vocab_size"], (batch, length)).astype(np.int32),
    }
    if config.task == "vqa":
        targets = {"answer": rng.integers(0, settings["num_answers"], batch).astype(np.int32)}
    else:
        targets = {"image_id": np.arange(batch, dtype=np.int64)}
    return inputs, targets


def largest_product(settings, batch):
    """(m, k, n) of the model's largest matrix product: every region's features through the first layer."""
    regions = settings["grid_height"] * settings["grid_width"]
    width = settings.get("embedding_dim") or settings["hidden_dim"]
    return batch * regions, settings["feature_dim"], width


def matmul_flops_per_s(shape, repeats=5):
    """FLOP/s of a float32 [m, k] × [k, n] matmul: the best of `repeats` timings."""
    m, k, n = shape
    a = tf.random.normal([m, k])
    b = tf.random.normal([k, n])
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[0]))
    product().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best


def training_flops_per_example(model, loss, batch, inputs_spec):
    """Matrix-product FLOPs of one example's forward and backward pass, as the step's graph does them."""

    def gradients(inputs, targets):
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(model(inputs, training=True), targets))
        return tape.gradient(value, model.trainable_variables)

    function = tf.function(gradients).get_concrete_function(*inputs_spec)
    return matmul_flops(function, QUESTION_LENGTH, batch) / batch


def keras_optimizer(config):
    """Keras' own optimizer of an OptimizerConfig, for `model.fit`: it sums the gradients and clips them itself."""
    schedule = learning_rate_schedule(config, STEPS_PER_EPOCH)
    clip = config.clip_norm or None
    if config.name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=config.momentum, global_clipnorm=clip)
    return keras.optimizers.Adam(schedule, global_clipnorm=clip)


class _FitModel(keras.Model):
    """`model` trained by Keras' own train step on the package's loss (plus the model's L2 penalty)."""

    def __init__(self, model, loss):
        super().__init__(name="fit_reference")
        self.inner, self._loss = model, loss

    def call(self, inputs, training=False):
        return self.inner(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        value = tf.reduce_mean(self._loss(y_pred, y))
        if self.inner.losses:
            value += tf.add_n(self.inner.losses)
        return value


def _timed(run_steps, warmup, steps, repeats):
    """Median seconds per step over `repeats` timings of `steps` steps, after `warmup` steps."""
    run_steps(warmup)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_steps(steps)
        seconds.append((time.perf_counter() - start) / steps)
    return float(np.median(seconds))


class _StepTimes(keras.callbacks.Callback):
    """The time at the end of each training step."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def _fit_step_seconds(fit_model, dataset, warmup, steps, repeats):
    """As `_timed`, within one `fit` call, so that fit's set-up (iterator, callbacks) is not counted."""
    times = _StepTimes()
    fit_model.fit(dataset, steps_per_epoch=warmup + steps * repeats, epochs=1, verbose=0, callbacks=[times])
    ends = times.ends[warmup - 1 :]  # the end of the last warm-up step, then every `steps`-th step
    return float(np.median([(ends[(i + 1) * steps] - ends[i * steps]) / steps for i in range(repeats)]))


def loop_runner(strategy, name, config, batch, jit_compile, keras_own_optimizer=False):
    """`run_steps(n)`: n steps of the package's training step of `name` on one fixed synthetic batch, with
    `strategy`'s dataset iteration as `train()` does it (under the global mixed-precision policy).

    `keras_own_optimizer`: apply the update with Keras' own optimizer, which all-reduces the
    step's already summed gradients a second time (what the step did before `build_optimizer`).
    """
    settings = paper_model_arguments(name)
    inputs, targets = synthetic_batch(config, settings, batch)
    dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
    with strategy.scope():
        model = build_model(name, **settings)
        if keras_own_optimizer:  # the step clips; this optimizer must not clip again
            optimizer = keras_optimizer(dataclasses.replace(config.optimizer, clip_norm=0.0))
        else:
            optimizer = build_optimizer(config.optimizer, STEPS_PER_EPOCH)
        optimizer.build(model.trainable_variables)
    steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=jit_compile)
    iterator = iter(strategy.distribute_datasets_from_function(lambda context: dataset))

    def run_steps(n):
        steps(iterator, n)  # n steps in one graph call, as train() runs them

    return run_steps


def step_seconds(strategy, name, config, mode, batch, warmup, steps, repeats):
    """Median seconds per training step of `name` in `mode`, on `strategy`'s one device."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mode == "loop_bf16" else "float32")
    try:
        if mode != "fit":
            return _timed(loop_runner(strategy, name, config, batch, mode == "loop_xla"), warmup, steps, repeats)
        settings = paper_model_arguments(name)
        inputs, targets = synthetic_batch(config, settings, batch)
        dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
        with strategy.scope():
            fit_model = _FitModel(build_model(name, **settings), training_loss(config))
            fit_model.compile(optimizer=keras_optimizer(config.optimizer), jit_compile=False)
        return _fit_step_seconds(fit_model, dataset, warmup, steps, repeats)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def measure(strategy, name, args):
    """Rows of one model: each mode's examples/s and fraction of the matmul rate."""
    config = get_experiment(PAPER_EXPERIMENTS[name])
    batch = config.data.global_batch_size
    settings = paper_model_arguments(name)
    shape = largest_product(settings, batch)
    matmul_rates = [matmul_flops_per_s(shape)]
    keras.utils.clear_session()
    model = build_model(name, **settings)
    inputs, targets = synthetic_batch(config, settings, batch)
    spec = (
        tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, a.dtype), inputs),
        tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, a.dtype), targets),
    )
    flops = training_flops_per_example(model, training_loss(config), batch, spec)
    seconds = {}
    for mode in args.modes:
        seconds[mode] = step_seconds(strategy, name, config, mode, batch, args.warmup, args.steps, args.repeats)
        print(f"{name} {mode}: {batch / seconds[mode]:.1f} examples/s", flush=True)
    matmul_rates.append(matmul_flops_per_s(shape))
    matmul = max(matmul_rates)
    print(
        f"{name} matmul {shape}: {matmul / 1e9:.1f} GFLOP/s (timings {[round(r / 1e9, 1) for r in matmul_rates]})",
        flush=True,
    )
    return [
        {
            "model": name,
            "mode": mode,
            "device": device_type(strategy),
            "batch": batch,
            "examples_per_s": batch / s,
            "training_gflops_per_example": flops / 1e9,
            "achieved_gflops_per_s": flops * batch / s / 1e9,
            "matmul_shape": list(shape),
            "matmul_gflops_per_s": matmul / 1e9,
            "fraction_of_matmul": flops * batch / s / matmul,
        }
        for mode, s in seconds.items()
    ]


# The synthetic recipe whose step loop is timed, at about its data's sizes (question words, answers).
RECIPE, RECIPE_VOCABULARY, RECIPE_ANSWERS = "smem_two_hop_synthetic", 64, 24


def step_loop_rows(strategy, args):
    """Steps/s of the synthetic recipe's training step (its model, grid, batch and optimizer) run
    `--recipe_steps` at a time: one step per Python call, and all of them in one graph call, as `train()`
    runs them. Its steps are short, so the per-call overhead shows."""
    config = get_experiment(RECIPE)
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model_parts(config, RECIPE_VOCABULARY, RECIPE_ANSWERS).model
        optimizer = build_optimizer(config.optimizer, STEPS_PER_EPOCH)
        optimizer.build(model.trainable_variables)
    height, width, channels = model.input["image_features"].shape[1:]
    settings = dict(
        grid_height=height,
        grid_width=width,
        feature_dim=channels,
        vocab_size=RECIPE_VOCABULARY,
        num_answers=RECIPE_ANSWERS,
    )
    batch = config.data.global_batch_size
    inputs, targets = synthetic_batch(config, settings, batch, length=config.data.max_question_length)
    dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
    steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=False)
    iterator = iter(strategy.distribute_datasets_from_function(lambda context: dataset))

    def one_per_call(count):
        for _ in range(count):
            steps(iterator, 1)

    def all_in_one_call(count):
        steps(iterator, count)

    rows = []
    for calls, run in (
        ("one step per call (Python loop)", one_per_call),
        ("all in one call (in graph)", all_in_one_call),
    ):
        seconds = _timed(run, args.warmup, args.recipe_steps, args.repeats)
        rows.append(
            {"recipe": RECIPE, "batch": batch, "steps": args.recipe_steps, "calls": calls, "steps_per_s": 1 / seconds}
        )
        print(f"{RECIPE} {calls}: {1 / seconds:.1f} steps/s", flush=True)
    return rows


def step_loop_table(rows):
    lines = ["| recipe | batch | steps timed | calls | steps/s | vs one step per call |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["steps_per_s"] / rows[0]["steps_per_s"]
        lines.append(
            f"| {r['recipe']} | {r['batch']} | {r['steps']} | {r['calls']} | {r['steps_per_s']:.1f} | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def table(rows):
    lines = [
        "| model | mode | batch | examples/s | training GFLOPs / example | achieved GFLOP/s "
        "| matmul [m, k, n] | matmul GFLOP/s | fraction of matmul | vs `loop` |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    loop = {r["model"]: r["examples_per_s"] for r in rows if r["mode"] == "loop"}
    for r in rows:
        ratio = f"{r['examples_per_s'] / loop[r['model']]:.2f}×" if r["model"] in loop else ""
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['batch']} | {r['examples_per_s']:.1f} "
            f"| {r['training_gflops_per_example']:.3f} | {r['achieved_gflops_per_s']:.1f} "
            f"| {r['matmul_shape']} | {r['matmul_gflops_per_s']:.1f} | {r['fraction_of_matmul']:.2f} | {ratio} |"
        )
    return "\n".join(lines)


# The issue's targets: training's fraction of the matmul rate, per model.
MIN_FRACTION = {"smem_vqa": 0.50, "reasoning_dan": 0.65, "matching_dan": 0.65}


def targets(rows):
    """One line per target: the loop's fraction of the matmul rate, the loop against `fit`, and jit_compile's
    default against the faster of on and off, each met or missed and by how much."""
    rate = {(r["model"], r["mode"]): r for r in rows}
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows):
        loop = rate.get((model, "loop"))
        if loop is None:
            continue
        fraction, wanted = loop["fraction_of_matmul"], MIN_FRACTION[model]
        verdict = "met" if fraction >= wanted else f"missed by {wanted - fraction:.2f}"
        lines.append(
            f"* {model}: the loop reaches {fraction:.2f} of the matmul rate (target ≥ {wanted:.2f}: {verdict})."
        )
        if (model, "fit") in rate:
            ratio = loop["examples_per_s"] / rate[model, "fit"]["examples_per_s"]
            verdict = "met" if ratio >= 1.0 else f"missed by {1.0 - ratio:.3f}"
            lines.append(f"* {model}: the loop runs at {ratio:.3f}× `model.fit` (target ≥ 1.0×: {verdict}).")
        if (model, "loop_xla") in rate:
            xla = rate[model, "loop_xla"]["examples_per_s"] / loop["examples_per_s"]
            auto = resolve_jit_compile("auto", loop["device"], model)
            verdict = "met" if (auto and xla >= 1) or (not auto and xla <= 1) else "missed"
            lines.append(
                f"* {model}: XLA runs at {xla:.2f}× no XLA; jit_compile's default (`auto`) is "
                f"{'on' if auto else 'off'} on {loop['device']} (target: the faster of on and off: {verdict})."
            )
    return "\n".join(lines)


def write_report(path, command, rows, step_loop):
    """The results tables (with their targets) at `path`, and the JSON twin beside it."""
    write_results(
        path,
        command,
        "Training throughput at the papers' sizes",
        "Features as input, 25-token questions, each paper preset's batch and optimizer; training FLOPs are "
        "the matrix products of the step's graph, forward and backward (see the script's docstring); "
        "'fraction of matmul' is the achieved FLOP/s over a float32 matmul of the model's largest product "
        "timed in the same run.\n\n" + table(rows) + "\n\nTargets:\n\n" + targets(rows) + "\n\n"
        "The synthetic recipe's training step, called once per step from Python and with all the timed steps "
        "in one graph call (as `train()` runs them), in the same run:\n\n" + step_loop_table(step_loop),
        machine_note="Shared and noisy: compare the ratios within this run, not absolute times.",
        rows=rows,
        step_loop=step_loop,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table (the JSON twin goes beside it).")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recipe_steps", type=int, default=200, help="steps per timing of the synthetic recipe")
    args = parser.parse_args()
    if min(args.warmup, args.steps, args.repeats) < 1:
        parser.error("--warmup, --steps and --repeats must be at least 1")
    strategy = make_strategy(RuntimeConfig(strategy="one_device"))
    rows = [row for name in args.models for row in measure(strategy, name, args)]
    step_loop = step_loop_rows(strategy, args)
    print(table(rows))
    print(targets(rows))
    print(step_loop_table(step_loop))
    if args.output:
        write_report(args.output, command_line(), rows, step_loop)


if __name__ == "__main__":
    main()
