"""The one training loop, for every strategy: one device, mirrored, multi-worker, TPU.

Up to `trainer.steps_per_loop` steps inside one `tf.function` (as Orbit runs
them), each a `strategy.run` on the next global batch, the per-replica loss
averaged over the global batch with `tf.nn.compute_average_loss`; checkpoints through
`tf.train.CheckpointManager` (a rerun of the same command resumes, on the batches
the run would have read next); with `runtime.deterministic` a seed reproduces its
weights exactly, killed and resumed or not; a SIGTERM
saves a checkpoint and raises `StoppedBySignal`, which the programs turn into
exit status 143 (the multi-worker path uses TensorFlow's
`PreemptionCheckpointHandler`, which makes every worker save at the same
step, then raises it too); a NaN loss stops the
run and keeps the last good checkpoint. Evaluations write
`metrics/eval_<step>.json`, TensorBoard summaries and, when the headline
metric improves, `best.keras`.
"""

import contextlib
import dataclasses
import math
import signal
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from vqa_tf.configs import ExperimentConfig, save_or_check_config
from vqa_tf.errors import StoppedBySignal, VqaTfError
from vqa_tf.training import model_dir as files
from vqa_tf.training.determinism import apply_op_determinism
from vqa_tf.training.distribution import is_chief, make_strategy
from vqa_tf.training.evaluation import evaluate_and_record
from vqa_tf.training.jit_policy import device_type, resolve_jit_compile
from vqa_tf.training.modeling import ModelParts
from vqa_tf.training.optimization import build_optimizer
from vqa_tf.training.precision_policy import resolve_mixed_precision
from vqa_tf.training.task import Task
from vqa_tf.training.tasks import make_task, training_loss
from vqa_tf.utils.progress import Progress


class NaNLossError(VqaTfError, RuntimeError):
    """The loss became NaN or infinite."""


# A call of the training steps runs as many steps as the last call's pace fits in this long (at least one),
# so that a SIGTERM, which Python sees only between calls, is answered within about this time.
SIGNAL_CHECK_SECONDS = 2.0


def _step(optimizer):
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _finite(model):
    return all(bool(np.all(np.isfinite(keras.ops.convert_to_numpy(v)))) for v in model.trainable_variables)


def total_steps(config, task):
    if config.trainer.train_epochs > 0:
        return int(math.ceil(config.trainer.train_epochs * task.steps_per_epoch))
    return config.trainer.train_steps


def _scaled(gradient, factor):
    """`gradient` × `factor`, keeping an embedding's sparse IndexedSlices sparse."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


class _SigtermFlag:
    """Records a SIGTERM so the loop can checkpoint at the next step and exit; while the
    loop runs only (the handler that was installed before comes back on exit)."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def _handle(self, signum, frame):
        self.raised = True

    def __enter__(self):
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc_info):
        signal.signal(signal.SIGTERM, self._previous)


def _summed_gradients(grads, clip):
    """The step's one all-reduce: a global-norm clip (when `clip` > 0) must see the summed gradient, and
    build_optimizer's optimizers take it summed (Keras' own would sum it again)."""
    context = tf.distribute.get_replica_context()
    if clip > 0:
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(g) for g in grads])
        return tf.clip_by_global_norm(grads, clip)[0]
    # an embedding's gradient stays sparse (IndexedSlices), as Keras would sum it
    return context.all_reduce(tf.distribute.ReduceOp.SUM, grads)


def make_train_step(strategy, model, core, optimizer, config, jit_compile):
    """The training steps `train()` runs: `steps(iterator, num_steps)` runs `num_steps` steps in one
    `tf.function`, each on the next global batch of a distributed dataset's iterator, and returns their
    summed loss. The batches and updates are the same however the steps are grouped into calls.

    The loss is the task's per-example loss (`training_loss(config)`) averaged
    over `config.data.global_batch_size` and multiplied by
    `config.optimizer.loss_weight`, plus the model's regularization losses
    (the L2 penalty of `optimizer.weight_decay`, which the model's layers carry);
    the gradient is clipped by its global norm, and `core`'s gradients are
    multiplied by `optimizer.model_lr_multiplier`. The gradient is all-reduced
    once, so `optimizer` must take it summed (`build_optimizer`'s do). Each
    replica's step is XLA-compiled when `jit_compile`.

    Examples:

        steps = make_train_step(strategy, model, model, optimizer, config, jit_compile=False)
        loss_sum = steps(iter(strategy.distribute_datasets_from_function(make_dataset)), 100)
    """
    loss = training_loss(config)
    global_batch = config.data.global_batch_size
    loss_weight = config.optimizer.loss_weight
    clip = config.optimizer.clip_norm
    multiplier = config.optimizer.model_lr_multiplier
    model_paths = {v.path for v in core.trainable_variables}
    variables = model.trainable_variables

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            value = tf.nn.compute_average_loss(loss(outputs, targets), global_batch_size=global_batch) * loss_weight
            penalties = model.losses
            if penalties:
                value += tf.nn.scale_regularization_loss(tf.add_n(penalties))
        grads = _summed_gradients(tape.gradient(value, variables), clip)
        if multiplier != 1.0:  # SGD's step is linear in the gradient: this multiplies those layers' rate
            grads = [_scaled(g, multiplier) if v.path in model_paths else g for g, v in zip(grads, variables)]
        optimizer.apply_gradients(zip(grads, variables))
        return value

    compiled_step = tf.function(replica_step, jit_compile=jit_compile)

    @tf.function
    def train_steps(iterator, num_steps):
        total = tf.constant(0.0)
        for _ in tf.range(num_steps):
            inputs, targets = next(iterator)
            per_replica = strategy.run(compiled_step, args=(inputs, targets))
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return total

    def steps(iterator, num_steps):
        return float(train_steps(iterator, tf.constant(num_steps)))  # a tensor: no retracing per count

    return steps


@dataclasses.dataclass
class _Run:
    """What a training run holds: its task, model and optimizer, under `strategy`."""

    config: ExperimentConfig
    model_dir: str
    strategy: tf.distribute.Strategy
    chief: bool
    task: Task
    parts: ModelParts
    optimizer: keras.optimizers.Optimizer
    total_steps: int


def _build_run(config, model_dir):
    """Checks the config against the model_dir, prepares the task and builds the model and optimizer."""
    save_or_check_config(config, model_dir)
    apply_op_determinism(config.runtime)
    strategy = make_strategy(config.runtime)
    chief = is_chief(strategy)
    mixed, reason = resolve_mixed_precision(config.runtime.mixed_precision, device_type(strategy), config.model.name)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mixed else "float32")
    if chief:
        print(f"precision: {'mixed_bfloat16' if mixed else 'float32'} ({reason})", flush=True)
    task = make_task(config, model_dir)
    # Seeded after the task, whose data writing and backbone pretraining seed themselves from data.seed: the
    # model's initialisation and batch order then depend on trainer.seed alone, whether or not this run
    # pretrained the backbone.
    keras.utils.set_random_seed(config.trainer.seed)
    with strategy.scope():
        parts = task.build_model()
        optimizer = build_optimizer(config.optimizer, task.steps_per_epoch)
        optimizer.build(parts.model.trainable_variables)
    return _Run(config, model_dir, strategy, chief, task, parts, optimizer, total_steps(config, task))


def _checkpoint_manager(run):
    """The run's CheckpointManager, restored from its latest checkpoint (or warm-started from init_model_dir)."""
    checkpoint = files.training_checkpoint(run.parts.model, run.optimizer)
    checkpoint_dir = files.path(run.model_dir, files.CHECKPOINT_DIR)
    # Every worker resumes from the chief's checkpoints (the model_dir is shared); the others write throw-away
    # copies, as MultiWorkerMirroredStrategy needs every worker to save.
    restored = tf.train.latest_checkpoint(checkpoint_dir)
    if not run.chief:
        checkpoint_dir = tempfile.mkdtemp(prefix="vqa_tf_worker_checkpoint_")
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=run.config.trainer.max_checkpoints)
    if restored:
        files.check_checkpoint_format(restored)
        checkpoint.restore(restored)
    if restored and run.chief:
        print(f"resumed from {restored} at step {_step(run.optimizer)}", flush=True)
    init_dir = run.config.trainer.init_model_dir
    if not restored and init_dir:
        vocabulary = files.path(run.model_dir, files.VOCABULARY_FILE)
        copied = files.initialize_from(run.parts.core, vocabulary, init_dir)
        if run.chief:
            print(f"initialised {', '.join(copied)} from {init_dir}", flush=True)
    return manager


def _step_runner(run, preemption):
    """`run_steps(count)` → (steps run, summed loss): up to `count` steps from the run's current step, as many
    as take about SIGNAL_CHECK_SECONDS (exactly `count` under a PreemptionCheckpointHandler, whose workers must
    make the same calls)."""
    config = run.config
    start_step = _step(run.optimizer)
    # The batches an uninterrupted run would read from here: a resumed run reads past those before its step, so
    # that under runtime.deterministic a run killed and resumed ends with the weights of one that was not.
    dataset = run.strategy.distribute_datasets_from_function(
        lambda context: run.task.train_dataset(context, seed=config.trainer.seed).skip(start_step)
    )
    iterator = iter(dataset)
    jit_compile = resolve_jit_compile(config.runtime.jit_compile, device_type(run.strategy), config.model.name)
    train_steps = make_train_step(run.strategy, run.parts.model, run.parts.core, run.optimizer, config, jit_compile)
    seconds_per_step = None

    def run_steps(count):
        nonlocal seconds_per_step
        if preemption is not None:
            return count, preemption.run(train_steps, iterator, count)
        count = 1 if seconds_per_step is None else min(count, max(1, int(SIGNAL_CHECK_SECONDS / seconds_per_step)))
        started = time.perf_counter()
        total = train_steps(iterator, count)
        seconds_per_step = (time.perf_counter() - started) / count
        return count, total

    return run_steps


def _preemption_handler(run, manager):
    """TensorFlow's PreemptionCheckpointHandler for a multi-worker run: once any worker gets SIGTERM, every
    worker saves a checkpoint named by the same step, then raises `StoppedBySignal` (its default exits)."""

    def save():  # named by its step, as every other checkpoint (TensorFlow's default counts saves)
        manager.save(checkpoint_number=_step(run.optimizer))

    def stopped():
        step = _step(run.optimizer)
        raise StoppedBySignal(
            f"preempted: every worker saved a checkpoint at step {step}; exiting", 128 + signal.SIGTERM
        )

    return tf.distribute.experimental.PreemptionCheckpointHandler(
        run.strategy.cluster_resolver,
        manager,
        termination_config=tf.distribute.experimental.TerminationConfig(exit_fn=stopped, save_fn=save),
    )


def _next_boundary(step, total, trainer):
    """The first step after `step` at which the loop reports, checkpoints or evaluates (at most `total`)."""
    every = (trainer.steps_per_loop, trainer.checkpoint_every, trainer.eval_every)
    return min(total, *((step // n + 1) * n for n in every))


def _check_finite(run, manager, loss, first, step):
    # The losses were computed before each update; the weights after the last update
    # must be finite too, or the next checkpoint would hold a broken model.
    if not (math.isfinite(loss) and _finite(run.parts.model)):
        raise NaNLossError(
            f"the training loss became {loss if not math.isfinite(loss) else 'finite, but the weights not'} "
            f"between steps {first} and {step}; stopping. "
            f"The last good checkpoint is kept: {manager.latest_checkpoint or 'none yet'}"
        )


def train(config, model_dir):
    """Trains (or resumes) `config` in `model_dir`; returns the final evaluation metrics (None off the chief).

    The config goes to `<model_dir>/config.json`; a rerun in the same directory
    must train the same model on the same data (trainer and runtime may change).
    Progress, each evaluation and a resumption are printed, one line each.
    Raises `NaNLossError` when the loss stops being finite, and
    `vqa_tf.errors.StoppedBySignal` after a SIGTERM, once its checkpoint is saved.
    """
    run = _build_run(config, model_dir)
    manager = _checkpoint_manager(run)
    preemption = _preemption_handler(run, manager) if config.runtime.strategy == "multi_worker" else None
    run_steps = _step_runner(run, preemption)
    # The multi-worker path has PreemptionCheckpointHandler; elsewhere a SIGTERM is caught here.
    with contextlib.nullcontext() if preemption is not None else _SigtermFlag() as sigterm:
        return _train_loop(run, manager, run_steps, sigterm)


def _train_loop(run, manager, run_steps, sigterm):
    """Runs steps to the end, reporting, checkpointing and evaluating at each boundary; the last metrics."""
    trainer, steps, step = run.config.trainer, run.total_steps, _step(run.optimizer)
    writer = tf.summary.create_noop_writer()
    if run.chief:
        writer = tf.summary.create_file_writer(files.path(run.model_dir, "train"))
    progress = Progress(steps) if run.chief else None
    metrics = None
    while step < steps:
        boundary = _next_boundary(step, steps, trainer)
        started, first, loss_sum = time.perf_counter(), step, 0.0
        while True:  # calls of up to SIGNAL_CHECK_SECONDS each, until the boundary or a SIGTERM
            done, total = run_steps(boundary - step)
            step, loss_sum = step + done, loss_sum + total
            if step >= boundary or (sigterm is not None and sigterm.raised):
                break
        loss = loss_sum / (step - first)
        _check_finite(run, manager, loss, first, step)
        rate = (step - first) / (time.perf_counter() - started)
        with writer.as_default(step=step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("steps_per_second", rate)
            tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(run.optimizer.learning_rate)))
        if progress is not None:
            progress.update(step, [("loss", loss), ("steps/s", rate)])
        if sigterm is not None and sigterm.raised:
            manager.save(checkpoint_number=step)
            raise StoppedBySignal(f"SIGTERM: saved a checkpoint at step {step}; exiting", 128 + signal.SIGTERM)
        if step % trainer.checkpoint_every == 0 or step == steps:
            manager.save(checkpoint_number=step)
        if step % trainer.eval_every == 0 or step == steps:
            metrics = _evaluate(run.task, run.parts, run.model_dir, step, run.chief)
    if metrics is None:  # resumed after the last evaluation
        metrics = _evaluate(run.task, run.parts, run.model_dir, step, run.chief)
    return metrics


def _evaluate(task, parts, model_dir, step, chief):
    """The chief evaluates and prints one line; other workers return None."""
    if not chief:
        return None
    metrics = evaluate_and_record(task, parts, model_dir, step)
    print(f"evaluation at step {step}: {task.describe(metrics)}", flush=True)
    return metrics
