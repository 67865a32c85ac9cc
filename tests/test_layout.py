"""The package's shape: one installed name, programs that answer --help, import contracts, a lean server."""

import ast
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from concurrent import futures

import pytest
from serving_servers import MODEL, base_with
from training_runs import env

from vqa_tf.utils.ports import free_ports

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSOLE_SCRIPTS = {
    "vqa-extract-features",
    "vqa-train-vqa",
    "vqa-train-matching",
    "vqa-evaluate",
    "vqa-attention-figures",
    "vqa-export",
    "vqa-model-server",
    "vqa-predict",
    "vqa-quickstart",
    "vqa-index",
    "vqa-search",
    "vqa-demo",
}
# What the model server may load of vqa_tf: the serving package and the helpers below it.
LEAN = ("vqa_tf.serving", "vqa_tf.utils", "vqa_tf.errors", "vqa_tf.cli", "vqa_tf.programs")
SOURCE_IGNORED = shutil.ignore_patterns(
    ".git", "bazel-*", "build", "dist", "runs", "__pycache__", "*.egg-info", ".pytest_cache"
)


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_name_with_the_programs_inside_it(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=SOURCE_IGNORED)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "wheel"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("vqa_tf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"vqa_tf"}
    for program in ("trainers/train_vqa.py", "export/export_saved_model.py", "serving/model_server.py"):
        assert f"vqa_tf/programs/{program}" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "vqa-train-vqa = vqa_tf.programs.trainers.train_vqa:run" in entry_points
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License: Apache-2.0" in metadata.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def _help(script):
    path = os.path.join(sysconfig.get_path("scripts"), script)
    return script, subprocess.run([path, "--help"], capture_output=True, text=True, timeout=300, env=env())


@pytest.mark.slow
def test_every_console_script_answers_help_with_its_description_and_flags():
    installed = {
        e.name for e in importlib.metadata.entry_points(group="console_scripts") if e.value.startswith("vqa_tf.")
    }
    assert installed == CONSOLE_SCRIPTS
    with futures.ThreadPoolExecutor(3) as pool:
        answers = dict(pool.map(_help, sorted(CONSOLE_SCRIPTS)))
    for script, done in answers.items():
        module = importlib.metadata.entry_points(group="console_scripts")[script].value.split(":")[0]
        source = pathlib.Path(importlib.util.find_spec(module).origin).read_text()
        assert ast.get_docstring(ast.parse(source)).splitlines()[0] in done.stdout, script
        assert "flags:" in done.stdout and "  --" in done.stdout, (script, done.stdout[-1000:])
        assert "Traceback" not in done.stderr, (script, done.stderr[-2000:])


FIND_PROGRAMS_WITHOUT_THE_INSTALL = """
import importlib.util, sys
editable = [f for f in sys.meta_path if getattr(f, "__module__", "").startswith("__editable__")]
sys.meta_path[:] = [f for f in sys.meta_path if f not in editable]
for module in sys.argv[1:]:
    print(importlib.util.find_spec(module).origin)
"""


def test_the_programs_import_as_installed_from_a_source_tree_without_the_install(tmp_path):
    """A Bazel runfiles tree is laid out like the source tree: vqa_tf.programs finds the folders beside vqa_tf/."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FIND_PROGRAMS_WITHOUT_THE_INSTALL,
            "vqa_tf.programs.serving.model_server",
            "vqa_tf.programs.trainers.train_vqa",
            "vqa_tf.programs.export.export_saved_model",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [
        str(ROOT / "serving/model_server.py"),
        str(ROOT / "trainers/train_vqa.py"),
        str(ROOT / "export/export_saved_model.py"),
    ]


def _lint_imports(root):
    return subprocess.run(
        ["lint-imports", "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(root)),
    )


def test_the_import_contracts_hold():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


REACH_EVERY_SUBPACKAGE = """
import sys, vqa_tf
for name in sys.argv[1:]:
    module = getattr(vqa_tf, name)
    assert module.__name__ == f"vqa_tf.{name}", (name, module)
print(sorted(dir(vqa_tf)))
"""


def test_every_subpackage_and_module_is_an_attribute_of_vqa_tf_in_a_fresh_process():
    package = ROOT / "vqa_tf"
    names = sorted(
        [p.name for p in package.iterdir() if (p / "__init__.py").exists()]
        + [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    )
    done = subprocess.run(
        [sys.executable, "-c", REACH_EVERY_SUBPACKAGE, *names], capture_output=True, text=True, timeout=300, env=env()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(names) <= set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def _ruff(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_code_is_ruff_clean_and_formatted():
    if "TEST_SRCDIR" in os.environ:  # a Bazel test's runfiles hold part of the tree, and files that are not ours
        pytest.skip(reason="checks the whole checkout; the pytest run of .ci/run does")
    lint, formatting = _ruff("check", "."), _ruff("format", "--check", ".")
    assert lint.returncode == 0, lint.stdout[-3000:]
    assert formatting.returncode == 0, formatting.stdout[-3000:]


def test_ruff_reports_a_violation_under_the_projects_settings(tmp_path):
    (tmp_path / "module.py").write_text("import os\n\n\ndef f( x ):\n    return x\n")
    config = f"--config={ROOT / 'pyproject.toml'}"
    lint, formatting = _ruff("check", config, ".", cwd=tmp_path), _ruff("format", config, "--check", ".", cwd=tmp_path)
    assert lint.returncode == 1 and "F401" in lint.stdout, lint.stdout
    assert formatting.returncode == 1 and "module.py" in formatting.stdout, formatting.stdout


@pytest.mark.parametrize(
    "module, upstream_import, contract",
    [
        ("vqa_tf/models/smem_vqa.py", "from vqa_tf.training import train", "Data flows one way"),
        ("vqa_tf/serving/clients.py", "from vqa_tf.training.model_dir import CHECKPOINT_DIR", "demo process loads"),
        ("vqa_tf/serving/tensors.py", "import keras", "demo process loads"),
        ("vqa_tf/search/gallery_index.py", "from vqa_tf.data import synthetic", "demo process loads"),
    ],
)
def test_an_import_against_the_flow_breaks_a_contract(tmp_path, module, upstream_import, contract):
    shutil.copytree(ROOT / "vqa_tf", tmp_path / "vqa_tf", ignore=SOURCE_IGNORED)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{upstream_import}  # a deliberate violation\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout and "1 broken" in done.stdout


IMPORTED_BY_TENSORFLOW = """
import json, sys
import tensorflow, tensorflow_text
print(json.dumps(sorted(sys.modules)))
"""
SERVER_WITH_MODULE_LIST = """
import atexit, json, runpy, sys
modules_file = sys.argv[1]
atexit.register(lambda: json.dump(sorted(sys.modules), open(modules_file, "w")))
sys.argv = ["vqa-model-server", *sys.argv[2:]]
runpy.run_module("vqa_tf.programs.serving.model_server", run_name="__main__")
"""


@pytest.mark.slow
def test_the_model_server_answers_without_the_training_stack_or_a_keras_model(smem_export, reference, tmp_path):
    """The server process holds what TensorFlow and TF Text import (TF 2.21 imports Keras itself) and vqa_tf.serving."""
    from vqa_tf.serving import GrpcClient

    base = base_with(tmp_path, smem_export[1], 1)
    modules_file, (port,) = tmp_path / "modules.json", free_ports(1)
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVER_WITH_MODULE_LIST,
            str(modules_file),
            f"--port={port}",
            f"--model_name={MODEL}",
            f"--model_base_path={base}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env(),
        cwd=tmp_path,
    )
    client = GrpcClient(f"127.0.0.1:{port}")
    try:
        client.wait_until_available(MODEL, timeout=240)
        inputs, expected = reference
        assert list(client.predict(MODEL, inputs)["answer"]) == list(expected["answer"])
    finally:
        client.close()
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=120)
    assert server.returncode == 0, log[-3000:]
    modules = json.loads(modules_file.read_text())
    assert "vqa_tf.serving.servables" in modules
    assert [m for m in modules if m.startswith("vqa_tf.") and not m.startswith(LEAN)] == []
    bare = subprocess.run([sys.executable, "-c", IMPORTED_BY_TENSORFLOW], capture_output=True, text=True, timeout=300)
    by_tensorflow = set(json.loads(bare.stdout.splitlines()[-1]))
    assert [m for m in modules if m.startswith("keras") and m not in by_tensorflow] == []
