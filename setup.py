"""vqa_tf: Spatial Memory Networks and Dual Attention Networks for TensorFlow / Keras 3.

Installs one top-level package, `vqa_tf`. The programs live in the source
tree's `trainers/`, `export/` and `serving/` folders and install as
`vqa_tf.programs.trainers`, `vqa_tf.programs.export` and
`vqa_tf.programs.serving`, which the console scripts run.
"""

from setuptools import find_packages, setup

PROGRAM_FOLDERS = {f"vqa_tf.programs.{folder}": folder for folder in ("trainers", "export", "serving")}
CONSOLE_SCRIPTS = {
    "vqa-extract-features": "trainers.extract_features",
    "vqa-train-vqa": "trainers.train_vqa",
    "vqa-train-matching": "trainers.train_matching",
    "vqa-evaluate": "trainers.evaluate",
    "vqa-attention-figures": "trainers.attention_figures",
    "vqa-export": "export.export_saved_model",
    "vqa-model-server": "serving.model_server",
    "vqa-predict": "serving.predict",
    "vqa-quickstart": "serving.quickstart",
    "vqa-index": "serving.index_gallery",
    "vqa-search": "serving.search_gallery",
    "vqa-demo": "serving.demo",
}

setup(
    name="vqa_tf",
    version="0.1.0",
    description=(
        "Visual question answering and image-text matching in Keras 3 / TensorFlow: "
        "Spatial Memory Networks, Dual Attention Networks and the iBOWIMG baseline."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["vqa_tf", "vqa_tf.*"]) + list(PROGRAM_FOLDERS),
    package_dir=PROGRAM_FOLDERS,
    package_data={"vqa_tf.demo": ["static/*"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "tensorflow-text>=2.21,<2.22",
        "tensorflow-serving-api>=2.21,<2.22",
        "numpy>=1.26,<3",
        "absl-py>=2.1,<3",
        "grpcio>=1.60,<2",
        "tensorboard>=2.21,<2.22",
        "matplotlib>=3.8,<4",
        "faiss-cpu>=1.8,<2",
        "aiohttp>=3.9,<4",
    ],
    # setuptools: the packaging test builds a wheel with the environment's own (bdist_wheel is built in from 70.1);
    # h5py: a test writes a Keras weights file itself (Keras installs it too);
    # ruff: lint and format, checked by a test (its rules change between minor versions, hence the narrow pin);
    # playwright: the demo page's browser tests drive Debian's chromium with it (no browser download);
    # mkdocs, mkdocstrings: a test builds the documentation site strictly;
    # pytest-xdist: the README's test command spreads the suite over the machine's cores (up to four)
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",
            "import-linter>=2.1,<3",
            "ruff>=0.17,<0.18",
            "setuptools>=70.1",
            "hypothesis>=6.100,<7",
            "h5py>=3.10,<4",
            "playwright>=1.40,<2",
            "mkdocs>=1.6,<2",
            "mkdocstrings>=0.26,<2",
            "mkdocstrings-python>=1.10,<3",
        ]
    },
    entry_points={
        "console_scripts": [f"{name}=vqa_tf.programs.{module}:run" for name, module in CONSOLE_SCRIPTS.items()],
    },
)
