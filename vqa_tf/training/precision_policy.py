"""Whether a run trains in mixed bfloat16: `runtime.mixed_precision` is "auto" (the default), "on" or "off".

"auto" trains in `mixed_bfloat16` where both hold:

* the device multiplies bfloat16 natively: a CPU with the `avx512_bf16` or
  `amx_bf16` flag (x86) or `bf16` (Arm), a GPU of compute capability 8.0 or
  more, a TPU;
* the model family's bfloat16 accuracy was measured within `PARITY_POINTS` of
  its float32 accuracy on every synthetic task (mean over seeds, from
  `benchmarks/synthetic_results.py`'s bfloat16 rows).

Elsewhere it means float32. "on" and "off" force it. `train()` prints the
decision and its reason once per run.
"""

import functools

import tensorflow as tf

MIXED_PRECISION_VALUES = ("auto", "on", "off")
PARITY_POINTS = 1.0
# The largest drop, in points, of bfloat16 below float32 accuracy on any synthetic task (mean over seeds),
# per model family, from the bfloat16 rows of benchmarks/results/synthetic_results.json and
# bfloat16_parity.json (tests/test_precision_policy.py keeps them equal). A family that is not here has no
# such measurement, and "auto" keeps it in float32.
MEASURED_BF16_ACCURACY_DROP = {
    # count 1.2 points above, presence 1.1 below: over the 1-point bound
    "smem_vqa": 1.12,
    # presence 0.6 below; above float32 on positions, where float32's own spread over seeds is 12-17 points
    "reasoning_dan": 0.56,
    # image-to-text R@1 4.2 points below (text-to-image 2.9), most of it one seed
    "matching_dan": 4.24,
}
NATIVE_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.cache
def cpu_flags():
    """The CPU's feature flags (Linux `/proc/cpuinfo`: "flags" on x86, "Features" on Arm; empty where that file
    is missing)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            line = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def gpu_compute_capability():
    """(major, minor) of the first GPU TensorFlow sees, or None."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")


def native_bfloat16(device):
    """Whether a "CPU", "GPU" or "TPU" device multiplies bfloat16 natively."""
    if device == "TPU":
        return True
    if device == "GPU":
        capability = gpu_compute_capability()
        return capability is not None and tuple(capability) >= (8, 0)
    return any(flag in cpu_flags() for flag in NATIVE_CPU_FLAGS)


def resolve_mixed_precision(value, device, model_name, native=None):
    """(whether to train in mixed_bfloat16, the reason) for the runtime's `value` on a `device` type;
    `native` overrides the device's own answer to `native_bfloat16`.

    Examples:
    >>> resolve_mixed_precision("off", "TPU", "reasoning_dan")
    (False, 'runtime.mixed_precision is off')
    >>> resolve_mixed_precision("auto", "GPU", "smem_vqa", native=False)
    (False, 'auto: this GPU has no native bfloat16 matrix multiply')
    """
    if value not in MIXED_PRECISION_VALUES:
        raise ValueError(f"runtime.mixed_precision must be one of {', '.join(MIXED_PRECISION_VALUES)}; got {value!r}")
    if value != "auto":
        return value == "on", f"runtime.mixed_precision is {value}"
    if not (native_bfloat16(device) if native is None else native):
        return False, f"auto: this {device} has no native bfloat16 matrix multiply"
    drop = MEASURED_BF16_ACCURACY_DROP.get(model_name)
    if drop is None:
        return False, f"auto: {model_name}'s bfloat16 accuracy has not been measured against float32"
    if drop > PARITY_POINTS:
        return False, (
            f"auto: {model_name} in bfloat16 was measured {drop:.1f} points below float32 on a synthetic task "
            f"(parity needs ≤ {PARITY_POINTS:g})"
        )
    return True, f"auto: native bfloat16 on this {device}, and {model_name} within {drop:.1f} points of float32"
