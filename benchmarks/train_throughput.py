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
* `matmuls_only`: the step's matrix products alone, each at its own shapes and
  as many times as the step runs it, on random operands: the rate the loop
  would reach if everything but its matrix products took no time;

and a dense float32 matmul of the model's largest product ([batch × regions,
channels] × [channels, width]), timed (best of 3) just before and just after
each timing of a mode. A mode's achieved FLOP/s is its training FLOPs per
example × examples/s, where the training FLOPs are the matrix products of the
step's graph (`graph_flops`: forward and backward, without the gradients no
variable needs, such as the image features'). Each timing is divided by the
mean of the two matmul rates around it, so that both sides of the ratio see the
same load on a shared machine, and the median of those fractions is reported.
Element-wise work (LSTM gates, softmax, the optimizer update) is not counted,
so a fraction below 1 includes it.

Then the synthetic recipe's step (`smem_two_hop_synthetic`'s model, grid and batch) is timed with one
step per Python call and with `--recipe_steps` steps in one graph call.

Each mode: a fresh model, `--warmup` steps (tracing, compiling), then
`--repeats` timings of `--steps` steps on one fixed batch; the median
examples/s is reported. The loop's data comes from `strategy.distribute_datasets_from_function`
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
from graph_flops import matmul_products, products_flops
from machine import command_line, write_results

from vqa_tf.configs import PAPER_EXPERIMENTS, RuntimeConfig, get_experiment
from vqa_tf.models import build_model
from vqa_tf.text import Vocabulary
from vqa_tf.training import build_model_parts, make_train_step, paper_model_arguments, training_loss
from vqa_tf.training.distribution import make_strategy
from vqa_tf.training.jit_policy import device_type, resolve_jit_compile
from vqa_tf.training.optimization import build_optimizer, learning_rate_schedule

MODELS = ("smem_vqa", "reasoning_dan", "matching_dan")
MODES = ("loop", "loop_xla", "loop_bf16", "fit", "matmuls_only")
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


def matmul_rate(shape, repeats=3):
    """`rate()`: FLOP/s of a float32 [m, k] × [k, n] matmul, the best of `repeats` timings."""
    m, k, n = shape
    a = tf.random.normal([m, k])
    b = tf.random.normal([k, n])
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[0]))
    product().numpy()

    def rate():
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            product().numpy()
            best = min(best, time.perf_counter() - start)
        return 2 * m * k * n / best

    return rate


def training_products(name, config, settings, batch):
    """The matrix products of one training step of `name` (built afresh at `settings`, on a batch of `batch`),
    forward and backward, as the step's graph does them: {(a's shape, b's shape, transpose_a, transpose_b):
    count} (`graph_flops.matmul_products`)."""
    keras.utils.clear_session()
    model, loss = build_model(name, **settings), training_loss(config)
    spec = tuple(
        tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, a.dtype), part)
        for part in synthetic_batch(config, settings, batch)
    )

    def gradients(inputs, targets):
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(model(inputs, training=True), targets))
        return tape.gradient(value, model.trainable_variables)

    function = tf.function(gradients).get_concrete_function(*spec)
    return matmul_products(function, QUESTION_LENGTH, batch)


def products_runner(products, product=tf.matmul):
    """`run_steps(n)`: n runs of every product in `products` ({product: count}) alone, each `count` times, on
    random operands of its shapes: the step's matrix products without the rest of the step. Each product's
    repeats are one while loop whose left operand is loop-carried, so that no repeat can be merged away, and
    each loop starts from the previous one's sum, so that the products run one after another, each with every
    core, rather than competing for the cores. `product(a, b, transpose_a, transpose_b)` computes one
    (tf.matmul's arguments)."""
    operands = [
        (tf.random.normal(a), tf.random.normal(b), transpose_a, transpose_b, count)
        for (a, b, transpose_a, transpose_b), count in products.items()
    ]

    @tf.function
    def run():
        total = tf.constant(0.0)
        for a, b, transpose_a, transpose_b, count in operands:

            def body(i, left, acc, b=b, transpose_a=transpose_a, transpose_b=transpose_b):
                return i + 1, left, acc + tf.reshape(product(left, b, transpose_a, transpose_b), [-1])[0]

            total = tf.while_loop(lambda i, *_, count=count: i < count, body, (0, a, total))[2]
        return total

    def run_steps(n):
        for _ in range(n):
            run().numpy()

    return run_steps


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


def timed(run_steps, warmup, steps, repeats, between=lambda: None):
    """Seconds per step of each of `repeats` timings of `steps` steps, after `warmup` steps; `between()` runs
    untimed before each timing and after the last."""
    run_steps(warmup)
    seconds = []
    for _ in range(repeats):
        between()
        start = time.perf_counter()
        run_steps(steps)
        seconds.append((time.perf_counter() - start) / steps)
    between()
    return seconds


class _RepeatMarks(keras.callbacks.Callback):
    """After the warm-up steps and then after every `steps` steps: the time, `between()`, and the time again."""

    def __init__(self, warmup, steps, between):
        super().__init__()
        self.warmup, self.steps, self.between = warmup, steps, between
        self.marks = []  # (end of the previous timing, start of the next)

    def on_train_batch_end(self, batch, logs=None):
        done = batch + 1 - self.warmup
        if done >= 0 and done % self.steps == 0:
            end = time.perf_counter()
            self.between()
            self.marks.append((end, time.perf_counter()))


def _fit_step_seconds(fit_model, dataset, warmup, steps, repeats, between):
    """As `timed`, within one `fit` call, so that fit's set-up (iterator, callbacks) is not counted."""
    marks = _RepeatMarks(warmup, steps, between)
    fit_model.fit(dataset, steps_per_epoch=warmup + steps * repeats, epochs=1, verbose=0, callbacks=[marks])
    return [(marks.marks[i + 1][0] - marks.marks[i][1]) / steps for i in range(repeats)]


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


def step_timings(strategy, name, config, mode, batch, args, matmul, products):
    """[(seconds per step, matmul FLOP/s)] of `--repeats` timings of `name`'s training step in `mode`, on
    `strategy`'s one device; each timing's matmul rate is the mean of the `matmul()` rates timed just before
    and just after it, so that both sides of the ratio see the same load on the machine."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mode == "loop_bf16" else "float32")
    rates = []
    timing = (args.warmup, args.steps, args.repeats, lambda: rates.append(matmul()))
    try:
        if mode == "matmuls_only":
            seconds = timed(products_runner(products), *timing)
        elif mode != "fit":
            seconds = timed(loop_runner(strategy, name, config, batch, mode == "loop_xla"), *timing)
        else:
            settings = paper_model_arguments(name)
            inputs, targets = synthetic_batch(config, settings, batch)
            dataset = tf.data.Dataset.from_tensors((inputs, targets)).repeat()
            with strategy.scope():
                fit_model = _FitModel(build_model(name, **settings), training_loss(config))
                fit_model.compile(optimizer=keras_optimizer(config.optimizer), jit_compile=False)
            seconds = _fit_step_seconds(fit_model, dataset, *timing)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return [(s, (rates[i] + rates[i + 1]) / 2) for i, s in enumerate(seconds)]


def measure(strategy, name, args):
    """Rows of one model: each mode's examples/s and fraction of the matmul rate (medians over the repeats)."""
    config = get_experiment(PAPER_EXPERIMENTS[name])
    batch = config.data.global_batch_size
    settings = paper_model_arguments(name)
    shape = largest_product(settings, batch)
    matmul = matmul_rate(shape)
    products = training_products(name, config, settings, batch)
    flops = products_flops(products) / batch
    rows = []
    for mode in args.modes:
        timings = step_timings(strategy, name, config, mode, batch, args, matmul, products)
        fractions = [flops * batch / s / rate for s, rate in timings]
        seconds = float(np.median([s for s, _ in timings]))
        rows.append(
            {
                "model": name,
                "mode": mode,
                "device": device_type(strategy),
                "batch": batch,
                "examples_per_s": batch / seconds,
                "training_gflops_per_example": flops / 1e9,
                "achieved_gflops_per_s": flops * batch / seconds / 1e9,
                "matmul_shape": list(shape),
                "matmul_gflops_per_s": float(np.median([rate for _, rate in timings])) / 1e9,
                "fraction_of_matmul": float(np.median(fractions)),
                "fraction_of_matmul_per_repeat": fractions,
            }
        )
        print(
            f"{name} {mode}: {batch / seconds:.1f} examples/s, fraction of matmul per repeat "
            f"{[round(f, 3) for f in fractions]}",
            flush=True,
        )
    return rows


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
        vocabulary = Vocabulary.build([[f"word{i}" for i in range(RECIPE_VOCABULARY - 2)]])
        model = build_model_parts(config, vocabulary, RECIPE_ANSWERS).model
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
        seconds = float(np.median(timed(run, args.warmup, args.recipe_steps, args.repeats)))
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


# Targets for training's fraction of the matmul rate, per model: r-DAN's floor, and SMem's and m-DAN's
# fractions when that floor was set (0.75 and 0.66), which they must keep.
MIN_FRACTION = {"smem_vqa": 0.75, "reasoning_dan": 0.70, "matching_dan": 0.66}


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
        "timed just before and after each timing (the median over the timings; the matmul column is the median "
        "of the rates they were divided by).\n\n" + table(rows) + "\n\nTargets:\n\n" + targets(rows) + "\n\n"
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
    parser.add_argument("--repeats", type=int, default=5)
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
