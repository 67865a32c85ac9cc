"""The one atomic-write helper: a reader sees nothing or everything, on a local disk and on ram://."""

import uuid

import pytest
import tensorflow as tf

from vqa_tf.utils.files import atomic_path, read_json, write_json


@pytest.fixture(params=["local", "ram"])
def folder(request, tmp_path):
    return str(tmp_path) if request.param == "local" else f"ram://files-{uuid.uuid4().hex}"


def _write_tree(root, files):
    for name, text in files.items():
        tf.io.gfile.makedirs(tf.io.gfile.join(root, *name.split("/")[:-1]))
        with tf.io.gfile.GFile(f"{root}/{name}", "w") as f:
            f.write(text)


def _read_tree(root):
    return {
        f"{folder}/{name}"[len(root) + 1 :]: tf.io.gfile.GFile(f"{folder}/{name}").read()
        for folder, _, names in tf.io.gfile.walk(root)
        for name in names
        if tf.io.gfile.exists(f"{folder}/{name}") and not tf.io.gfile.isdir(f"{folder}/{name}")
    }


def _names(folder):
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(folder))


def test_a_directory_appears_whole_with_every_file(folder):
    files = {
        "saved_model.pb": "graph",
        "variables/variables.index": "index",
        "assets/vocab.txt": "words",
        "assets.extra/tf_serving_warmup_requests": "warm-up",
    }
    with atomic_path(f"{folder}/exports/1") as temporary:
        _write_tree(temporary, files)
        assert not tf.io.gfile.exists(f"{folder}/exports/1")
    assert _read_tree(f"{folder}/exports/1") == files
    assert _names(f"{folder}/exports") == ["1"]


def test_a_failed_write_leaves_nothing_and_keeps_what_was_there(folder):
    write_json(f"{folder}/config.json", {"steps": 1})
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(f"{folder}/config.json") as temporary:
            write_json(temporary, {"steps": 2})
            raise RuntimeError("killed mid-write")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(f"{folder}/exports/1") as temporary:
            _write_tree(temporary, {"saved_model.pb": "half", "assets.extra/warm": "up"})
            raise RuntimeError("killed mid-export")
    assert read_json(f"{folder}/config.json") == {"steps": 1}
    assert _names(folder) == ["config.json", "exports"] and _names(f"{folder}/exports") == []


def test_a_directory_never_replaces_another_and_a_file_only_when_asked(folder):
    _write_tree(f"{folder}/exports/1", {"saved_model.pb": "first"})
    with pytest.raises(FileExistsError, match="exports/1 exists; it is not replaced"):
        with atomic_path(f"{folder}/exports/1") as temporary:
            _write_tree(temporary, {"saved_model.pb": "second"})
    assert _read_tree(f"{folder}/exports/1") == {"saved_model.pb": "first"}
    write_json(f"{folder}/best.json", 1)
    with pytest.raises(FileExistsError):
        with atomic_path(f"{folder}/best.json", overwrite=False) as temporary:
            write_json(temporary, 2)
    write_json(f"{folder}/best.json", 3)
    assert read_json(f"{folder}/best.json") == 3
    assert _names(folder) == ["best.json", "exports"]
