"""jit_compile "auto" follows the committed training benchmark: XLA only where it was measured faster."""

import json
from pathlib import Path

import pytest
import tensorflow as tf
from absl import logging

from vqa_tf.training.jit_policy import MEASURED_XLA_SPEEDUP, device_type, resolve_jit_compile

RESULTS = Path(__file__).absolute().parents[1] / "benchmarks" / "results" / "train_throughput.json"


def measured_speedups(device):
    """{model: loop_xla examples/s over loop examples/s} of the committed benchmark rows on `device`."""
    rows = [r for r in json.loads(RESULTS.read_text())["rows"] if r.get("device", "CPU") == device]
    rate = {(r["model"], r["mode"]): r["examples_per_s"] for r in rows}
    return {model: rate[(model, "loop_xla")] / rate[(model, "loop")] for model, mode in rate if mode == "loop"}


def test_the_policy_table_is_the_committed_benchmarks():
    for device, speedups in MEASURED_XLA_SPEEDUP.items():
        measured = measured_speedups(device)
        assert set(speedups) == set(measured)
        for model, speedup in speedups.items():
            assert speedup == pytest.approx(measured[model], abs=0.005), model


def test_auto_compiles_only_where_xla_was_measured_faster_for_every_model():
    for device, speedups in MEASURED_XLA_SPEEDUP.items():
        expected = all(s > 1.0 for s in speedups.values())
        assert all(resolve_jit_compile("auto", device, model) is expected for model in speedups)
    assert resolve_jit_compile("auto", "GPU", "reasoning_dan") is False  # not measured: no XLA
    assert resolve_jit_compile("auto", "TPU", "reasoning_dan") is True


def test_an_explicit_choice_is_kept_and_a_measured_slowdown_is_told(monkeypatch):
    warnings = []
    monkeypatch.setattr(logging, "warning", lambda message, *args: warnings.append(message % args))
    assert resolve_jit_compile("off", "CPU", "reasoning_dan") is False
    assert warnings == []
    assert resolve_jit_compile("on", "CPU", "reasoning_dan") is True
    speedup = MEASURED_XLA_SPEEDUP["CPU"]["reasoning_dan"]
    assert speedup < 1.0
    assert len(warnings) == 1 and f"{speedup:.2f}× as fast with XLA" in warnings[0]


def test_an_unknown_value_names_the_valid_ones():
    with pytest.raises(ValueError, match="auto, on, off; got 'true'"):
        resolve_jit_compile("true", "CPU", "reasoning_dan")


def test_the_device_type_is_the_strategys():
    assert device_type(tf.distribute.OneDeviceStrategy("/cpu:0")) == "CPU"
