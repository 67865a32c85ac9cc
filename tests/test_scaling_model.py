"""The scaling benchmark's ring all-reduce fit and projection, checked against formulas written out here."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).absolute().parents[1] / "benchmarks"))
import scaling


def ring_timings(n_bytes, workers, alpha, bandwidth):
    """Ring all-reduce: 2(p−1) steps, each paying α and moving n/p bytes."""
    return np.array([2 * (p - 1) * (alpha + n / p / bandwidth) for n, p in zip(n_bytes, workers)])


@pytest.mark.parametrize("workers", [2, [2] * 12, [2, 4, 8, 16] * 3])
def test_the_fit_recovers_alpha_and_bandwidth(workers):
    n_bytes = [2**k for k in range(16, 28)]
    seconds = ring_timings(n_bytes, np.broadcast_to(workers, len(n_bytes)), alpha=150e-6, bandwidth=1.2e9)
    alpha, bandwidth, residual = scaling.fit_ring_model(n_bytes, workers, seconds)  # a count, or one per timing
    assert alpha == pytest.approx(150e-6, rel=1e-9)
    assert bandwidth == pytest.approx(1.2e9, rel=1e-9)
    assert residual < 1e-9


def test_the_fit_tolerates_noise():
    n_bytes = [2**k for k in range(16, 28)]
    noise = 1 + 0.02 * np.where(np.arange(12) % 2, 1, -1)  # ±2%, alternating
    seconds = ring_timings(n_bytes, [2] * 12, alpha=150e-6, bandwidth=1.2e9) * noise
    alpha, bandwidth, residual = scaling.fit_ring_model(n_bytes, [2] * 12, seconds)
    assert alpha == pytest.approx(150e-6, rel=0.1)
    assert bandwidth == pytest.approx(1.2e9, rel=0.05)
    assert residual == pytest.approx(0.02, rel=0.2)


def test_a_projection_matches_a_hand_computation():
    # 8 workers, 25 Gb/s = 3.125e9 B/s, α = 10 µs, 68 MB of float32 gradients in 30 variables,
    # 1 ms per example at 100 examples per replica.
    spec = {"seconds_per_example": {"m": 1e-3}, "alpha": 10e-6, "bandwidth_cap": math.inf}
    row = scaling.project("m", "gpu", spec, batch=100, gradient_bytes=68e6, variables=30, workers=8, link_gbps=25)
    comm = 14 * 10e-6 + 14 / 8 * 68e6 / 3.125e9  # 0.00014 + 0.03808
    assert row["compute_s"] == pytest.approx(0.1)
    assert row["allreduce_s"] == pytest.approx(comm)
    assert row["efficiency"] == pytest.approx(0.1 / (0.1 + comm))  # 0.7235
    assert row["examples_per_s"] == pytest.approx(800 / (0.1 + comm))
    # ≥ 90% needs b · 1 ms ≥ 9 · all-reduce.
    assert row["min_batch_per_replica"] == {
        "float32, one bucket": 344,  # 9 × 38.22 ms / 1 ms = 343.98
        "bfloat16, one bucket": 173,  # 9 × (0.14 + 19.04) ms = 172.62
        "float32, per variable": 381,  # 9 × (30 × 0.14 + 38.08) ms = 380.52
    }


def test_the_link_rate_is_capped_by_the_device_ceiling():
    spec = {"seconds_per_example": {"m": 1e-3}, "alpha": 0.0, "bandwidth_cap": 1e9}
    row = scaling.project("m", "cpu", spec, batch=10, gradient_bytes=1e9, variables=1, workers=2, link_gbps=100)
    assert row["bandwidth_bytes_per_s"] == 1e9
    assert row["allreduce_s"] == pytest.approx(1.0)
