"""Version numbers under concurrent and killed exporters: distinct, complete, and nothing left behind."""

import os
import signal
import subprocess
import threading
import time

import pytest
import tensorflow as tf
from training_runs import env, program

from vqa_tf.export import claimed_version, export
from vqa_tf.export.version_claim import remove_stale_claims
from vqa_tf.utils.saved_models import SAVED_MODEL_FILE, versions


def _leftovers(base):
    return sorted(name for name in os.listdir(base) if name.startswith("."))


def test_threads_claiming_at_once_get_distinct_numbers_and_release_them(tmp_path):
    base, count = str(tmp_path), 8
    start, claimed, errors = threading.Barrier(count), [], []

    def claim():
        start.wait()
        try:
            with claimed_version(base) as version:
                claimed.append(version)
                time.sleep(0.2)  # all hold their claims at once
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=claim) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(claimed) == list(range(1, count + 1))
    assert _leftovers(base) == []


def test_a_held_or_existing_version_is_refused_by_number(tmp_path):
    base = str(tmp_path)
    os.makedirs(tmp_path / "2")
    with pytest.raises(FileExistsError, match="never overwritten"):
        with claimed_version(base, 2):
            pass
    with claimed_version(base) as first:
        assert first == 3
        with pytest.raises(FileExistsError, match="being exported by another process"):
            with claimed_version(base, 3):
                pass
        with claimed_version(base) as second:
            assert second == 4
        assert remove_stale_claims(base) == []  # a live claim is not stale


def test_a_dead_exporters_claim_and_temporary_directory_are_removed(tmp_path):
    base = str(tmp_path)
    (tmp_path / ".claim-5").write_text("otherhost 1\n")  # no process holds its lock
    (tmp_path / ".tmp-0123456789ab-5" / "variables").mkdir(parents=True)
    (tmp_path / ".tmp-ba9876543210-6").mkdir()  # another version's: not this claim's to remove
    assert remove_stale_claims(base) == [5]
    assert _leftovers(base) == [".tmp-ba9876543210-6"]
    with claimed_version(base) as version:
        assert version == 1  # the dead claim no longer holds its number


def _export_command(model_dir, base):
    return [*program("export.export_saved_model"), f"--model_dir={model_dir}", f"--export_base={base}"]


@pytest.mark.slow
def test_two_concurrent_vqa_export_runs_write_two_distinct_complete_versions(smem_export, tmp_path):
    model_dir, _ = smem_export
    base = str(tmp_path / "base")
    runs = [
        subprocess.Popen(
            _export_command(model_dir, base), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env()
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(line for out in outputs for line in out.splitlines() if line.startswith("exported")) == [
        f"exported {base}/1",
        f"exported {base}/2",
    ]
    assert versions(base) == [1, 2] and _leftovers(base) == []
    for version in (1, 2):
        signature = tf.saved_model.load(f"{base}/{version}").signatures["serving_default"]
        assert set(signature.structured_outputs) == {"answer", "top_answers", "top_scores", "attention"}


@pytest.mark.slow
def test_a_killed_export_leaves_no_version_and_the_next_export_cleans_up(smem_export, tmp_path):
    model_dir, _ = smem_export
    base = tmp_path / "base"
    process = subprocess.Popen(
        _export_command(model_dir, str(base)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env()
    )
    deadline = time.monotonic() + 300
    while not (base.is_dir() and any(n.startswith(".tmp-") for n in os.listdir(base))):
        assert process.poll() is None and time.monotonic() < deadline, "the export ended before writing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert versions(str(base)) == []
    assert ".claim-1" in _leftovers(str(base)) and any(n.startswith(".tmp-") for n in _leftovers(str(base)))

    path = export(model_dir, str(base))
    assert path == f"{base}/1" and os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))
    assert _leftovers(str(base)) == []
