"""The Bazel build: every module in exactly one target, a py_test per test file, a lean model server.

These run `bazel query` on this checkout, so they run from pytest where Bazel is installed
(`.ci/run` installs Debian's bazel-bootstrap first); their own py_test is tagged manual,
because Bazel cannot query its workspace from inside one of its test sandboxes.
"""

import configparser
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from packaging.requirements import Requirement
from system_packages import require_program

ROOT = pathlib.Path(__file__).resolve().parents[1]
OWNED_FOLDERS = ("vqa_tf", "trainers", "export", "serving")
# What //serving:model_server must not reach: the lean-serving contract of .importlinter, as targets.
NOT_IN_THE_SERVER = {
    f"//vqa_tf:{name}"
    for name in ("training", "export", "models", "layers", "losses", "configs", "data", "text", "vision")
}


def _query(expression, output="label"):
    require_program("bazel", "bazel-bootstrap", "The Bazel build")
    done = subprocess.run(
        ["bazel", "query", "--noshow_progress", f"--output={output}", expression],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _file(label):
    """`//vqa_tf:data/readers.py` → `vqa_tf/data/readers.py` (this repository's labels only)."""
    package, name = label.removeprefix("//").split(":")
    return f"{package}/{name}" if package else name


def _rules():
    """{rule label: (rule class, [source files])} of every Python target in the repository."""
    tree = ElementTree.fromstring(_query("kind('py_.*', //...)", output="xml"))
    rules = {}
    for rule in tree.iter("rule"):
        srcs = rule.find("list[@name='srcs']")
        files = [] if srcs is None else [_file(label.get("value")) for label in srcs.iter("label")]
        rules[rule.get("name")] = (rule.get("class"), files)
    return rules


def ownership_problems(modules, rules):
    """Each module that no target or more than one target lists in its srcs, with those targets."""
    owners = {module: [] for module in modules}
    for name, (kind, files) in rules.items():
        if kind == "py_test":
            continue
        for file in files:
            owners.setdefault(file, []).append(name)
    return {module: targets for module, targets in owners.items() if module in modules and len(targets) != 1}


def missing_tests(test_files, rules):
    """Each tests/test_*.py without a py_test of its own name that runs it."""
    tests = {name.split(":")[1]: files for name, (kind, files) in rules.items() if kind == "py_test"}
    return sorted(file for file in test_files if file not in tests.get(pathlib.PurePath(file).stem, []))


def _modules():
    return {
        str(path.relative_to(ROOT))
        for folder in OWNED_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }


def _test_files():
    return {str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_*.py")}


@pytest.fixture(scope="module")
def rules():
    return _rules()


def test_every_module_belongs_to_exactly_one_target(rules):
    modules = _modules()
    assert len(modules) > 100  # the whole package, not an empty glob
    assert ownership_problems(modules, rules) == {}


def test_every_test_file_has_a_py_test(rules):
    assert missing_tests(_test_files(), rules) == []


def test_every_test_helper_is_in_a_tests_target(rules):
    """A helper module the tests import (conftest.py, training_runs.py, …) is in //tests:support or in the
    srcs of the py_test that runs it, or the Bazel test of each file that imports it fails to import it."""
    helpers = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("*.py") if not p.name.startswith("test_")}
    assert "tests/conftest.py" in helpers
    listed = {file for name, (_, files) in rules.items() if name.startswith("//tests:") for file in files}
    assert helpers - listed == set()


def test_a_new_file_without_a_target_is_reported(rules):
    modules = _modules() | {"trainers/new_program.py", "vqa_tf/new_package/__init__.py"}
    assert ownership_problems(modules, rules) == {"trainers/new_program.py": [], "vqa_tf/new_package/__init__.py": []}
    duplicated = dict(rules, **{"//vqa_tf:copy": ("py_library", ["vqa_tf/errors.py"])})
    assert ownership_problems(_modules(), duplicated) == {"vqa_tf/errors.py": ["//vqa_tf:vqa_tf", "//vqa_tf:copy"]}
    assert missing_tests(_test_files() | {"tests/test_new.py"}, rules) == ["tests/test_new.py"]


def test_every_program_is_a_binary(rules):
    binaries = {name for name, (kind, _) in rules.items() if kind == "py_binary"}
    programs = {
        f"//{folder}:{path.stem}"
        for folder in ("trainers", "export", "serving")
        for path in (ROOT / folder).glob("*.py")
        if path.name != "__init__.py"
    }
    assert programs <= binaries, programs - binaries


def test_the_model_server_does_not_reach_the_training_stack():
    reached = set(_query("deps(//serving:model_server)").split())
    assert "//vqa_tf:serving" in reached  # the query saw the server's own library
    assert reached.isdisjoint(NOT_IN_THE_SERVER), reached & NOT_IN_THE_SERVER
    assert not [label for label in reached if label.startswith("//vqa_tf:training/")]  # nor any of its files
    assert "//vqa_tf:training" in set(_query("deps(//serving:quickstart)").split())  # seen where it is a dep


def _names(requirements):
    return {re.sub(r"[-_.]+", "_", Requirement(requirement).name).lower() for requirement in requirements}


def test_the_pip_hub_shim_and_the_lock_match_setup_py():
    setup = (ROOT / "setup.py").read_text()
    install = re.findall(r'"([A-Za-z][\w.-]*(?:[<>=!~][^"]*)?)"', setup.split("install_requires=[")[1].split("]")[0])
    test = re.findall(r'"([A-Za-z][\w.-]*(?:[<>=!~][^"]*)?)"', setup.split('"test": [')[1].split("]")[0])
    shim = set(re.findall(r'^    "(\w+)",$', (ROOT / "third_party/bazel/pypi/BUILD").read_text(), re.M))
    assert shim == _names(install + test)
    pins = {}
    for line in (ROOT / "third_party/requirements_lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "_", name).lower()] = version
    for requirement in map(Requirement, install + test):
        pinned = pins[re.sub(r"[-_.]+", "_", requirement.name).lower()]
        assert requirement.specifier.contains(pinned), (requirement, pinned)


def _module(label):
    """`//vqa_tf:models` → `vqa_tf.models`; `//vqa_tf:vqa_tf` → `vqa_tf`."""
    package, name = label.removeprefix("//").split(":")
    return package if name == package else f"{package}.{name}"


def test_the_bazel_deps_keep_the_import_contract_layers():
    """A library's vqa_tf deps stay within the layers below it in .importlinter's data-flow contract."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = [line.strip() for line in config["importlinter:contract:data-flow"]["layers"].strip().splitlines()]
    rank = {module.strip(): index for index, layer in enumerate(layers) for module in layer.split("|")}
    tree = ElementTree.fromstring(_query("kind(py_library, //vqa_tf:all)", output="xml"))
    checked = set()
    for rule in tree.iter("rule"):
        module = _module(rule.get("name"))
        deps = rule.find("list[@name='deps']")
        for dep in [] if deps is None else deps.iter("label"):
            target = _module(dep.get("value"))
            if module in rank and target in rank:
                checked.add((module, target))
                assert rank[target] > rank[module], f"{rule.get('name')} depends on {dep.get('value')}"
    assert {("vqa_tf.training", "vqa_tf.models"), ("vqa_tf.export", "vqa_tf.training")} <= checked


PRINT_WORKING_DIRECTORY = """
import os
from vqa_tf import cli
cli.run(lambda argv: print(os.getcwd()))
"""


def test_bazel_run_programs_resolve_relative_paths_where_bazel_run_was_called(tmp_path):
    """`bazel run` sets BUILD_WORKING_DIRECTORY and starts the program in its runfiles tree."""
    (tmp_path / "runfiles").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", PRINT_WORKING_DIRECTORY],
        cwd=tmp_path / "runfiles",
        env=dict(os.environ, BUILD_WORKING_DIRECTORY=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path)
