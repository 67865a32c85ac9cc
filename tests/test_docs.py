"""The documentation site builds strictly, and its measurements come from the committed results JSON."""

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _build(root, site):
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_site_builds_strictly_with_a_table_of_every_committed_result(tmp_path):
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    for result in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        assert f"benchmarks/results/{result.name}" in page, f"{result.name} is not on the benchmarks page"
    assert "<!-- results:" not in page
    reference = (tmp_path / "site" / "reference" / "models" / "index.html").read_text()
    assert "SMemVQA" in reference and "MatchingDAN" in reference


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("mkdocs.yml", "docs", "vqa_tf", "benchmarks"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
    status = copy / "docs" / "status.md"
    status.write_text(status.read_text() + "\nSee [nowhere](no_such_page.md).\n")
    done = _build(copy, tmp_path / "site")
    assert done.returncode != 0 and "no_such_page.md" in done.stdout + done.stderr


def test_no_guide_types_a_measurement_the_results_hold():
    """Timings and accuracies live in benchmarks/results/*.json; the guides point there instead."""
    typed = re.compile(r"\b\d+(\.\d+)? ?(ms|seconds|minutes|GB/s|examples/s|requests/s)\b|\b0\.\d{3,}\b")
    for page in sorted((ROOT / "docs").rglob("*.md")):
        found = [line for line in page.read_text().splitlines() if typed.search(line)]
        assert not found, f"{page.relative_to(ROOT)} types measurements: {found[:3]}"
