"""The one training loop, for every strategy: one device, mirrored, multi-worker, TPU.

`strategy.run` inside a `tf.function`, the per-replica loss averaged over
the global batch with `tf.nn.compute_average_loss`; checkpoints through
`tf.train.CheckpointManager` (a rerun of the same command resumes); a SIGTERM
saves a checkpoint before exiting (the multi-worker path uses
`PreemptionCheckpointHandler`, which aligns the workers); a NaN loss stops the
run and keeps the last good checkpoint. Evaluations write
`metrics/eval_<step>.json`, TensorBoard summaries and, when the headline
metric improves, `best.keras`.
"""

import json
import math
import os
import signal
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from trainers.tasks import make_task
from vqa_tf.configs import save_or_check_config

CHECKPOINT_DIR = "checkpoints"
BEST_MODEL = "best.keras"
BEST_METRICS = "best.json"


class NaNLossError(RuntimeError):
    """The loss became NaN or infinite."""


def make_strategy(runtime):
    """The tf.distribute strategy named by `runtime.strategy`."""
    if runtime.num_cpu_devices > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * runtime.num_cpu_devices
        )
    name = runtime.strategy
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        return tf.distribute.MirroredStrategy(devices or [d.name for d in tf.config.list_logical_devices("CPU")])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy multi_worker reads the cluster from TF_CONFIG, which is not set")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=runtime.tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}; valid: one_device, mirrored, multi_worker, tpu")


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def learning_rate_schedule(config, steps_per_epoch):
    boundaries = list(config.decay_boundaries)
    if not boundaries:
        return config.learning_rate
    if config.decay_unit == "epochs":
        boundaries = [int(b * steps_per_epoch) for b in boundaries]
    values = [config.learning_rate * config.decay_factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def build_optimizer(config, steps_per_epoch):
    schedule = learning_rate_schedule(config, steps_per_epoch)
    if config.name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=config.momentum)
    if config.name == "adam":
        return keras.optimizers.Adam(schedule)
    raise ValueError(f"unknown optimizer {config.name!r}; valid: sgd, adam")


def _l2_weights(model):
    """Kernels and embeddings: the weights L2 applies to (not biases, not position codes)."""
    return [v for v in model.trainable_variables if v.name in ("kernel", "embeddings") or v.name.endswith("_kernel")]


def _step(optimizer):
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _finite(model):
    return all(bool(np.all(np.isfinite(keras.ops.convert_to_numpy(v)))) for v in model.trainable_variables)


def total_steps(config, task):
    if config.trainer.train_epochs > 0:
        return int(math.ceil(config.trainer.train_epochs * task.steps_per_epoch))
    return config.trainer.train_steps


class _SigtermFlag:
    """Records a SIGTERM so the loop can checkpoint at the next step and exit."""

    def __init__(self):
        self.raised = False
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.raised = True


def train(config, model_dir):
    """Trains (or resumes) `config` in `model_dir`; returns the final evaluation metrics.

    The config goes to `<model_dir>/config.json`; a rerun in the same directory
    must train the same model on the same data (trainer and runtime may change).
    """
    save_or_check_config(config, model_dir)
    strategy = make_strategy(config.runtime)
    chief = is_chief(strategy)
    keras.utils.set_random_seed(config.trainer.seed)
    if config.runtime.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    task = make_task(config, model_dir)
    steps = total_steps(config, task)
    global_batch = config.data.global_batch_size
    with strategy.scope():
        model = task.build_model()
        optimizer = build_optimizer(config.optimizer, task.steps_per_epoch)
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    checkpoint_dir = os.path.join(model_dir, CHECKPOINT_DIR)
    if not chief:  # non-chief workers write throw-away copies, as MultiWorkerMirroredStrategy needs
        checkpoint_dir = tempfile.mkdtemp(prefix="vqa_tf_worker_checkpoint_")
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=config.trainer.max_checkpoints)
    restored = manager.restore_or_initialize()
    if restored:
        logging.info("resumed from %s at step %d", restored, _step(optimizer))
    preemption = None
    if config.runtime.strategy == "multi_worker":
        preemption = tf.distribute.experimental.PreemptionCheckpointHandler(strategy.cluster_resolver, manager)
    sigterm = _SigtermFlag() if preemption is None else None

    start_step = _step(optimizer)
    dataset = strategy.distribute_datasets_from_function(
        lambda context: task.train_dataset(context, seed=config.trainer.seed + start_step)
    )
    iterator = iter(dataset)
    l2 = config.optimizer.weight_decay
    clip = config.optimizer.clip_norm

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.nn.compute_average_loss(task.loss(outputs, targets), global_batch_size=global_batch)
            if l2 > 0:
                penalty = 0.5 * l2 * tf.add_n([tf.reduce_sum(tf.square(tf.cast(w, tf.float32))) for w in _l2_weights(model)])
                loss += tf.nn.scale_regularization_loss(penalty)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        if clip > 0:
            # Keras sums gradients across replicas inside apply_gradients, after its own
            # clipping; a global-norm clip must see the summed gradient, so sum here,
            # clip, and hand each replica its share.
            context = tf.distribute.get_replica_context()
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(g) for g in grads])
            grads, _ = tf.clip_by_global_norm(grads, clip)
            grads = [g / context.num_replicas_in_sync for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    compiled_step = tf.function(replica_step, jit_compile=config.runtime.jit_compile or None)

    @tf.function
    def train_step(iterator):
        inputs, targets = next(iterator)
        per_replica = strategy.run(compiled_step, args=(inputs, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def run_step():
        if preemption is not None:
            return preemption.run(train_step, iterator)
        return train_step(iterator)

    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if chief else tf.summary.create_noop_writer()
    progress = keras.utils.Progbar(steps, stateful_metrics=["loss", "steps/s"]) if chief else None
    trainer = config.trainer
    step = start_step
    metrics = None
    while step < steps:
        boundary = min(
            steps,
            (step // trainer.steps_per_loop + 1) * trainer.steps_per_loop,
            (step // trainer.checkpoint_every + 1) * trainer.checkpoint_every,
            (step // trainer.eval_every + 1) * trainer.eval_every,
        )
        started = time.perf_counter()
        losses = []
        while step < boundary:
            losses.append(run_step())
            step += 1
            if sigterm is not None and sigterm.raised:
                break
        loss = float(np.mean([float(x) for x in losses]))
        # The losses were computed before each update; the weights after the last update
        # must be finite too, or the next checkpoint would hold a broken model.
        if not (math.isfinite(loss) and _finite(model)):
            raise NaNLossError(
                f"the training loss became {loss if not math.isfinite(loss) else 'finite, but the weights not'} "
                f"between steps {step - len(losses)} and {step}; stopping. "
                f"The last good checkpoint is kept: {manager.latest_checkpoint or 'none yet'}"
            )
        rate = len(losses) / (time.perf_counter() - started)
        with writer.as_default(step=step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("steps_per_second", rate)
            tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        if progress is not None:
            progress.update(step, [("loss", loss), ("steps/s", rate)])
        if sigterm is not None and sigterm.raised:
            manager.save(checkpoint_number=step)
            logging.warning("SIGTERM: saved a checkpoint at step %d; exiting", step)
            sys.exit(143)
        if step % trainer.checkpoint_every == 0 or step == steps:
            manager.save(checkpoint_number=step)
        if step % trainer.eval_every == 0 or step == steps:
            if chief:
                metrics = evaluate_and_record(task, model, model_dir, step)
    if metrics is None and chief:  # resumed after the last evaluation
        metrics = evaluate_and_record(task, model, model_dir, step)
    return metrics


def evaluate_and_record(task, model, model_dir, step):
    """Evaluates, writes metrics/eval_<step>.json and summaries, and keeps the best model."""
    metrics = task.evaluate(model)
    metrics["step"] = step
    directory = os.path.join(model_dir, "metrics")
    os.makedirs(directory, exist_ok=True)
    _write_json(os.path.join(directory, f"eval_{step:08d}.json"), metrics)
    with tf.summary.create_file_writer(os.path.join(model_dir, "eval")).as_default(step=step):
        for name, value in _flat_scalars(metrics):
            tf.summary.scalar(name, value)
    headline = task.headline(metrics)
    best_path = os.path.join(model_dir, BEST_METRICS)
    best = -math.inf
    if os.path.exists(best_path):
        with open(best_path, encoding="utf-8") as f:
            best = json.load(f)["headline"]
    if headline > best:
        temporary = os.path.join(model_dir, f".tmp-{os.getpid()}-{BEST_MODEL}")
        model.save(temporary)
        os.replace(temporary, os.path.join(model_dir, BEST_MODEL))
        _write_json(best_path, {"headline": headline, "step": step})
    logging.info("step %d: %s", step, json.dumps(metrics))
    return metrics


def _write_json(path, value):
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, default=float)
    os.replace(temporary, path)


def _flat_scalars(tree, prefix=""):
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat_scalars(value, f"{name}/")
        elif isinstance(value, list):
            for i, item in enumerate(value, start=1):
                yield f"{name}/{i}", float(item)
        elif isinstance(value, (int, float)) and key != "step":
            yield name, float(value)


def restore_latest(config, model_dir):
    """The task and its model with the latest checkpoint of `model_dir` loaded (for evaluation)."""
    task = make_task(config, model_dir)
    model = task.build_model()
    checkpoint = tf.train.Checkpoint(model=model)
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR))
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {os.path.join(model_dir, CHECKPOINT_DIR)}; train first")
    checkpoint.read(latest).expect_partial()
    return task, model, latest
