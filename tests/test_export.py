"""Exported SavedModels: in-graph preprocessing, equality with the trained model, servable ops, versions."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from vqa_tf.export import UnservableOpError, check_servable, export, saved_model_op_types
from vqa_tf.training import restore_for_evaluation
from vqa_tf.utils.saved_models import WARMUP_FILE
from vqa_tf.vision import build_backbone, load_images


@pytest.fixture(scope="module")
def vqa_export(smem_export):
    model_dir, path = smem_export
    return model_dir, os.path.dirname(path), path


@pytest.fixture(scope="module")
def trained(vqa_export):
    """(task, ModelParts) of the exported run's latest checkpoint."""
    task, parts, _ = restore_for_evaluation(vqa_export[0])
    return task, parts


def _grids(task, images):
    """The grids of `images` computed by the run's pretrained backbone, outside any export."""
    backbone = build_backbone(task.config.data.backbone, 64, task.backbone_weights)
    return backbone(load_images(images, 64), training=False)


def _requests(task, count=4):
    examples = task.eval_examples[:count]
    return (
        examples,
        tf.constant([e.question for e in examples]),
        tf.stack([tf.io.read_file(e.image_path) for e in examples]),
    )


@pytest.mark.slow
def test_exported_model_equals_the_trained_one(vqa_export, trained):
    task, parts = trained
    examples, questions, images = _requests(task)
    served = tf.saved_model.load(vqa_export[2]).signatures["serving_default"](question=questions, image=images)
    assert parts.backbone is None  # the synthetic presets train on the pretrained backbone's stored grids
    expected = parts.core(
        {"image_features": _grids(task, images), "token_ids": task.tokenizer(questions)}, training=False
    )
    probabilities = tf.nn.softmax(expected["logits"]).numpy()
    top_k = served["top_scores"].shape[1]
    assert top_k == min(5, len(task.answers))  # the export's default top_k over the 15 synthetic answers
    top = np.argsort(-probabilities, axis=1)[:, :top_k]
    np.testing.assert_allclose(served["top_scores"].numpy(), np.take_along_axis(probabilities, top, 1), atol=1e-5)
    assert [a.decode() for a in served["answer"].numpy()] == [task.answers.answers[i] for i in top[:, 0]]
    np.testing.assert_allclose(served["attention"].numpy(), expected["attention"].numpy(), atol=1e-5)
    assert served["attention"].dtype == tf.float32 and served["attention"].shape == (4, 2, 8, 8)
    assert served["top_answers"].shape == (4, top_k)


@pytest.mark.slow
def test_serve_features_equals_serving_default(vqa_export, trained):
    task, _ = trained
    _, questions, images = _requests(task)
    loaded = tf.saved_model.load(vqa_export[2])
    grid = _grids(task, images)
    from_features = loaded.signatures["serve_features"](question=questions, image_features=grid)
    from_images = loaded.signatures["serving_default"](question=questions, image=images)
    np.testing.assert_allclose(from_features["top_scores"].numpy(), from_images["top_scores"].numpy(), atol=1e-5)


FRESH = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
images = tf.stack([tf.io.read_file(p) for p in json.loads(sys.argv[3])])
out = serve(question=tf.constant(json.loads(sys.argv[2])), image=images)
print(json.dumps([a.decode() for a in out["answer"].numpy()]))
print("modules:", sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "vqa_tf")))
"""


@pytest.mark.slow
def test_a_fresh_process_with_only_tensorflow_and_text_answers(vqa_export, trained):
    task, _ = trained
    examples, questions, images = _requests(task)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH,
            vqa_export[2],
            json.dumps([e.question for e in examples]),
            json.dumps([e.image_path for e in examples]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers, modules = done.stdout.strip().splitlines()[-2:]
    in_process = tf.saved_model.load(vqa_export[2]).signatures["serving_default"](question=questions, image=images)
    assert json.loads(answers) == [a.decode() for a in in_process["answer"].numpy()]
    assert "vqa_tf" not in modules


@pytest.mark.slow
def test_without_tensorflow_text_the_text_ops_are_missing(vqa_export):
    code = "import sys, tensorflow as tf; tf.saved_model.load(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, vqa_export[2]], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "Op type not registered" in done.stderr


@pytest.mark.slow
def test_saved_model_cli_lists_the_documented_signatures(vqa_export):
    cli_path = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    done = subprocess.run(
        [cli_path, "show", "--all", "--dir", vqa_export[2]], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    for expected in [
        "signature_def['serving_default']",
        "signature_def['serve_features']",
        "inputs['question'] tensor_info:",
        "inputs['image'] tensor_info:",
        "inputs['image_features'] tensor_info:",
        "outputs['answer'] tensor_info:",
        "outputs['top_answers'] tensor_info:",
        "outputs['top_scores'] tensor_info:",
        "outputs['attention'] tensor_info:",
    ]:
        assert expected in text, expected
    serving = text[text.index("signature_def['serving_default']") :]
    assert "dtype: DT_STRING" in serving and "dtype: DT_FLOAT" in serving


@pytest.mark.slow
def test_only_core_and_text_ops_and_assets_and_warmup(vqa_export):
    path = vqa_export[2]
    ops = check_servable(path)
    assert any(op.startswith("TFText>") or op in ("CaseFoldUTF8", "RegexSplitWithOffsets") for op in ops)
    assert sorted(os.listdir(os.path.join(path, "assets"))) == ["answers.txt", "serving_limits.json", "vocab.txt"]
    records = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE))
    ]
    assert [r.predict_log.request.model_spec.signature_name for r in records] == ["serving_default", "serve_features"]


def test_the_op_check_refuses_python_functions(tmp_path):
    class WithPython(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return tf.py_function(lambda v: v * 2, [x], tf.float32)

    tf.saved_model.save(WithPython(), str(tmp_path))
    assert "EagerPyFunc" in saved_model_op_types(str(tmp_path))
    with pytest.raises(UnservableOpError, match=r"Python functions \['EagerPyFunc'\]"):
        check_servable(str(tmp_path))


@pytest.mark.slow
def test_versions_count_up_and_are_never_overwritten(vqa_export):
    model_dir, base, first = vqa_export
    assert os.path.basename(first) == "1"
    with pytest.raises(FileExistsError, match="never overwritten"):
        export(model_dir, base, version=1)
    assert sorted(os.listdir(base)) == ["1"]  # nothing half-written left behind


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, image, message",
    [
        (["is there a red square?", ""], None, "a question has no words"),
        (["is there a red square?", "x" * 10_000], None, "longer than 1000 characters"),
        ([b"is there a red \xff\xfe square?", "is there a red square?"], None, "not valid UTF-8"),
        (["is there a red square?"] * 2, [b"not an image", None], "an image is neither JPEG nor PNG"),
        (["is there a red square?"] * 3, None, "question and image must have the same batch size"),
    ],
)
def test_bad_requests_fail_with_a_message_and_the_next_good_one_works(vqa_export, trained, question, image, message):
    task, _ = trained
    serve = tf.saved_model.load(vqa_export[2]).signatures["serving_default"]
    good = tf.io.read_file(task.eval_examples[0].image_path)
    images = tf.stack([good, good]) if image is None else tf.constant([i or good.numpy() for i in image])
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(question=tf.constant(question), image=images)
    out = serve(question=tf.constant(["is there a red square?"]), image=tf.stack([good]))
    assert out["answer"].numpy()[0].decode() in task.answers.answers


@pytest.mark.slow
def test_tfsm_layer_imports_serve_features_into_another_keras_model(vqa_export, trained):
    task, _ = trained
    _, questions, images = _requests(task)
    layer = keras.layers.TFSMLayer(vqa_export[2], call_endpoint="serve_features")
    question = keras.Input((), dtype="string", name="question")
    grid = keras.Input((8, 8, 66), name="image_features")
    outputs = layer({"question": question, "image_features": grid})
    wrapper = keras.Model([question, grid], keras.layers.Dense(1)(outputs["top_scores"]))
    features = _grids(task, images)
    assert wrapper([questions, features]).shape == (4, 1)


@pytest.mark.slow
def test_matching_export_scores_as_the_dot_product_of_its_embeddings(mdan_export):
    model_dir, path, _ = mdan_export
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "embed_image", "embed_text"}
    task, parts, _ = restore_for_evaluation(model_dir)
    examples = task.eval_examples[:3]
    images = tf.stack([tf.io.read_file(e.image_path) for e in examples])
    captions = tf.constant([e.captions[0] for e in examples])
    z_v = loaded.signatures["embed_image"](image=images)["embedding"].numpy()
    z_u = loaded.signatures["embed_text"](caption=captions)["embedding"].numpy()
    score = loaded.signatures["serving_default"](image=images, caption=captions)["score"].numpy()
    np.testing.assert_allclose(score, np.sum(z_v * z_u, axis=1), rtol=1e-5, atol=1e-5)
    expected = parts.core.embed_image(_grids(task, images)).numpy()
    assert z_v.shape == expected.shape == z_u.shape and len(z_v) == 3
    np.testing.assert_allclose(z_v, expected, atol=1e-5)
