"""Whether the training step is XLA-compiled: `runtime.jit_compile` is "auto" (the default), "on" or "off".

"auto" compiles where `benchmarks/train_throughput.py` measured XLA faster
than no XLA for every model at the papers' sizes on that device type, and
nowhere else: never on CPU (measured slower for every model), not on GPU
(no GPU measurement in the table yet), always on TPU (whose steps are compiled anyway). An explicit "on" where XLA was
measured slower says by how much, once per run.
"""

import tensorflow as tf
from absl import logging

JIT_COMPILE_VALUES = ("auto", "on", "off")

# examples/s with jit_compile on over off, per device type and model, from
# benchmarks/results/train_throughput.json (tests/test_jit_policy.py keeps them equal).
MEASURED_XLA_SPEEDUP = {
    "CPU": {"smem_vqa": 0.979, "reasoning_dan": 0.819, "matching_dan": 0.898},
}
ALWAYS_COMPILED = ("TPU",)


def device_type(strategy):
    """ "CPU", "GPU" or "TPU": the type of the devices `strategy`'s replicas run on."""
    return tf.DeviceSpec.from_string(strategy.extended.worker_devices[0]).device_type or "CPU"


def resolve_jit_compile(value, device, model_name):
    """The `jit_compile` of the training step for the runtime's `value` on a `device` type.

    Examples:
    >>> resolve_jit_compile("auto", "CPU", "reasoning_dan")
    False
    >>> resolve_jit_compile("off", "TPU", "reasoning_dan")
    False
    """
    if value not in JIT_COMPILE_VALUES:
        raise ValueError(f"runtime.jit_compile must be one of {', '.join(JIT_COMPILE_VALUES)}; got {value!r}")
    speedup = MEASURED_XLA_SPEEDUP.get(device, {})
    if value == "off":
        return False
    if value == "on":
        if speedup.get(model_name, 1.0) < 1.0:
            logging.warning(
                "jit_compile is on, but on %s benchmarks/train_throughput.py measured %s %.2f× as fast with XLA "
                "as without it; leave runtime.jit_compile at 'auto' to train without XLA there",
                device,
                model_name,
                speedup[model_name],
            )
        return True
    if device in ALWAYS_COMPILED:
        return True
    return bool(speedup) and all(s > 1.0 for s in speedup.values())
