"""runtime.mixed_precision "auto": bfloat16 only where the device has it natively and the model family was
measured at float32's accuracy in it (the bfloat16 rows that benchmarks/synthetic_results.py wrote)."""

import json
from pathlib import Path

import pytest

from vqa_tf.configs import get_experiment
from vqa_tf.training import precision_policy
from vqa_tf.training.precision_policy import MEASURED_BF16_ACCURACY_DROP, resolve_mixed_precision

RESULTS = Path(__file__).absolute().parents[1] / "benchmarks" / "results"
# synthetic_results.py's outputs: every row, and the float32 and bfloat16 rows run for the parity alone.
OUTPUTS = ("synthetic_results.json", "bfloat16_parity.json")
BF16 = ", bfloat16"


def _means(row):
    if "recall" in row:
        return {(d, k): stats["mean"] for d, ks in row["recall"].items() for k, stats in ks.items()}
    return {task: stats["mean"] for task, stats in row["accuracy"].items() if task != "overall"}


def measured_drops():
    """{model family: the largest drop in points of its bfloat16 row below its float32 row on any task}."""
    runs = {}
    for output in OUTPUTS:
        if (RESULTS / output).exists():
            runs.update(json.loads((RESULTS / output).read_text())["runs"])
    drops = {}
    for name, row in runs.items():
        if name.endswith(BF16) and name[: -len(BF16)] in runs:
            float32, bfloat16 = _means(runs[name[: -len(BF16)]]), _means(row)
            family = get_experiment(row["experiment"]).model.name
            drops[family] = max(100 * (float32[task] - bfloat16[task]) for task in float32)
    return drops


def test_the_policy_table_is_the_committed_benchmark():
    measured = measured_drops()
    assert set(MEASURED_BF16_ACCURACY_DROP) == set(measured)
    for family, drop in MEASURED_BF16_ACCURACY_DROP.items():
        assert drop == pytest.approx(measured[family], abs=0.05), family


@pytest.fixture
def parity(monkeypatch):
    """A table where smem_vqa kept float32's accuracy in bfloat16 and reasoning_dan lost 2.3 points."""
    monkeypatch.setattr(precision_policy, "MEASURED_BF16_ACCURACY_DROP", {"smem_vqa": 0.4, "reasoning_dan": 2.3})


@pytest.mark.parametrize(
    "flags, native",
    [({"avx512f", "avx512_bf16"}, True), ({"amx_bf16", "amx_tile"}, True), ({"avx512f", "avx2"}, False)],
)
def test_auto_on_a_cpu_follows_its_bfloat16_flags(parity, monkeypatch, flags, native):
    monkeypatch.setattr(precision_policy, "cpu_flags", lambda: frozenset(flags))
    assert resolve_mixed_precision("auto", "CPU", "smem_vqa")[0] is native


@pytest.mark.parametrize("capability, native", [((7, 5), False), ((8, 0), True), ((9, 0), True), (None, False)])
def test_auto_on_a_gpu_needs_compute_capability_8(parity, monkeypatch, capability, native):
    monkeypatch.setattr(precision_policy, "gpu_compute_capability", lambda: capability)
    assert resolve_mixed_precision("auto", "GPU", "smem_vqa")[0] is native


def test_auto_needs_the_family_measured_within_a_point_of_float32(parity):
    assert resolve_mixed_precision("auto", "TPU", "smem_vqa") == (
        True,
        "auto: native bfloat16 on this TPU, and smem_vqa within 0.4 points of float32",
    )
    mixed, reason = resolve_mixed_precision("auto", "TPU", "reasoning_dan")
    assert not mixed and "2.3 points below float32" in reason
    mixed, reason = resolve_mixed_precision("auto", "TPU", "matching_dan")
    assert not mixed and "has not been measured" in reason


def test_on_and_off_force_it_on_any_device(parity):
    for device in ("CPU", "GPU", "TPU"):
        assert resolve_mixed_precision("on", device, "reasoning_dan", native=False)[0] is True
        assert resolve_mixed_precision("off", device, "smem_vqa", native=True)[0] is False


def test_an_unknown_value_names_the_valid_ones():
    with pytest.raises(ValueError, match="auto, on, off; got 'true'"):
        resolve_mixed_precision("true", "CPU", "smem_vqa")


def test_this_machines_cpu_flags_are_read():
    flags = precision_policy.cpu_flags()
    assert isinstance(flags, frozenset)
    if Path("/proc/cpuinfo").exists():
        assert "fpu" in flags or "fp" in flags or "sse2" in flags  # every x86-64 and most ARM CPUs list one
