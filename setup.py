"""vqa_tf: Spatial Memory Networks and Dual Attention Networks for TensorFlow / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="vqa_tf",
    version="0.1.0",
    description=(
        "Visual question answering and image-text matching in Keras 3 / TensorFlow: "
        "Spatial Memory Networks, Dual Attention Networks and the iBOWIMG baseline."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["vqa_tf", "vqa_tf.*", "trainers", "export", "serving"]),
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
    ],
    extras_require={"test": ["pytest>=8,<10"]},
    entry_points={
        "console_scripts": [
            "vqa-extract-features=trainers.extract_features:run",
            "vqa-train-vqa=trainers.train_vqa:run",
            "vqa-train-matching=trainers.train_matching:run",
            "vqa-evaluate=trainers.evaluate:run",
            "vqa-attention-figures=trainers.attention_figures:run",
            "vqa-export=export.export_saved_model:run",
            "vqa-model-server=serving.model_server:run",
            "vqa-predict=serving.predict:run",
            "vqa-quickstart=serving.quickstart:run",
        ],
    },
)
