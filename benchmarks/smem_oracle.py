"""Can the rest of SMem two-hop answer relations when hop 1 is perfect? An attention oracle, per relation.

A diagnostic, not a model option: SMem two-hop is assembled here from the
package's layers, identical but for hop 1 (`--hop1`). "own" computes it as
the paper does (`WordGuidedHop`); "oracle" replaces its attention by the
answer's evidence, spread evenly over the grid cells that the objects the
answer rests on touch; "first_named" spreads it over the cells of the first
object the question names alone (what hop 1 is trained onto under
`model.attention_supervision_targets=in_order`, so that hop 2 can hold the
second). Both oracles are uniform where the answer rests on no object (a
presence question whose object is absent). Everything after hop 1 (the
question vector, hop 2 over the first evidence embedding, the classifier)
follows the paper's equations (`vqa_tf.models.SMemVQA`). Every row trains
with the synthetic recipe's optimizer, batch and steps on the grids and
questions of a finished `smem_two_hop_synthetic` run (`--model_dir`), once
per seed, and is evaluated on its 500 held-out
questions per task, relative position also per relation and per form.

An oracle leaks one thing: a uniform hop 1 says the object is absent, so
its presence accuracy means nothing; relations always rest on two objects.

Usage: python benchmarks/smem_oracle.py --model_dir=RUN [--seeds 0,1,2]
           [--hop1 own,oracle,first_named] [--train_steps N]
           [--output benchmarks/results/smem_oracle.md]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from keras import ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results

from vqa_tf.configs import load_config
from vqa_tf.data.synthetic import TASKS
from vqa_tf.data.synthetic_files import read_evidence_mask, read_named_object_masks
from vqa_tf.layers import BagOfWords, QuestionGuidedHop, RegionEmbedding, WordEmbedding, WordGuidedHop
from vqa_tf.metrics import evidence_cells
from vqa_tf.training import make_task
from vqa_tf.training.modeling import data_grid

RELATIONS = ("above", "below", "to the left of", "to the right of")
ORACLE = "oracle_weights"
HOP1 = {  # --hop1 choice: its row's name in the table
    "own": "own hop 1 (the paper's)",
    "oracle": "oracle hop 1: the answer's objects",
    "first_named": "oracle hop 1: the first named object",
}


def _arrays(task, split):
    """(grids [n, H, W, C], token ids [n, T], answer classes [n], question ids [n]) of the answerable examples."""
    dataset = task.build_inputs(split, training=False, shuffle=False, batch_size=1024)
    parts = [[], [], [], []]
    for inputs, targets in dataset:
        for part, value in zip(
            parts, (inputs["image_features"], inputs["token_ids"], targets["answer"], targets["question_id"])
        ):
            part.append(value.numpy())
    return [np.concatenate(p) for p in parts]


def _oracle_weights(examples, question_ids, grid, first_named):
    """[n, L]: each question's evidence cells, weighted evenly (every cell where the answer rests on nothing).

    The evidence is every object the answer rests on, or with `first_named`
    the first object the question names.
    """
    paths = {e.question_id: e.evidence_mask_path for e in examples}
    weights = []
    for question_id in question_ids:
        path = paths[int(question_id)]
        mask = (read_named_object_masks(path) or [None])[0] if first_named else read_evidence_mask(path)
        cells = np.ones(grid, bool) if mask is None else evidence_cells(mask, grid)
        weights.append(cells.reshape(-1) / cells.sum())
    return np.stack(weights).astype("float32")


def _inputs(choice, grids, token_ids, examples, question_ids, grid):
    """The model's inputs for a `--hop1` choice: with hop 1's attention on the oracle rows only."""
    x = {"image_features": grids, "token_ids": token_ids}
    if choice != "own":
        x[ORACLE] = _oracle_weights(examples, question_ids, grid, first_named=choice == "first_named")
    return x


def smem_two_hop(config, vocabulary_size, num_answers, grid_shape, oracle):
    """SMem two-hop from the package's layers, with hop 1's attention from an input if `oracle`."""
    model = config.model
    height, width, channels = grid_shape
    features = keras.Input((height, width, channels), name="image_features")
    token_ids = keras.Input((config.data.max_question_length,), dtype="int32", name="token_ids")
    regions = keras.layers.Reshape((height * width, channels))(features)
    regions = keras.layers.UnitNormalization()(regions)
    regions = keras.layers.Dropout(model.dropout)(regions)
    words, word_mask = WordEmbedding(vocabulary_size, model.embedding_dim)(token_ids)
    evidence = RegionEmbedding(model.embedding_dim)(regions)
    inputs = [features, token_ids]
    if oracle:
        weights = keras.Input((height * width,), name=ORACLE)
        inputs.append(weights)
        read = keras.layers.Lambda(lambda t: ops.einsum("bl,bln->bn", t[0], t[1]))([weights, evidence])
    else:
        attention = RegionEmbedding(model.embedding_dim)(regions)
        read, _ = WordGuidedHop(config.data.max_question_length)(words, attention, evidence, word_mask)
    question = BagOfWords(config.data.max_question_length, use_bias=True, position_weights_initializer="ones")(
        words, word_mask
    )
    memory = keras.layers.Add()([read, question])
    second, _ = QuestionGuidedHop()(memory, evidence, RegionEmbedding(model.embedding_dim)(regions))
    hidden = keras.layers.ReLU()(keras.layers.Add()([memory, second]))
    logits = keras.layers.Dense(num_answers)(keras.layers.Dropout(model.dropout)(hidden))
    return keras.Model(inputs, logits)


def _accuracy(task, predictions, question_ids, answers):
    """Per task, per relation (relative position) and per form: the share answered right."""
    by_id = {e.question_id: e for e in task.eval_examples}
    groups = {}
    for question_id, predicted, answer in zip(question_ids, predictions, answers):
        example = by_id[int(question_id)]
        hit = float(predicted == answer)
        keys = [example.answer_type, f"{example.answer_type}, {example.question_type}"]
        if example.answer_type == "relative_position":
            relation = next(r for r in RELATIONS if re.search(rf" {r} the ", example.question))
            keys.append(f"relative_position: {relation}")
        for key in keys:
            groups.setdefault(key, []).append(hit)
    return {key: float(np.mean(hits)) for key, hits in sorted(groups.items())}


def run(task, config, seed, oracle, train, evaluation):
    keras.utils.set_random_seed(seed)
    model = smem_two_hop(config, len(task.vocabulary), task.num_answers, data_grid(config), oracle)
    model.compile(
        keras.optimizers.Adam(config.optimizer.learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    (x_train, y_train), (x_eval, y_eval, eval_ids) = train, evaluation
    batches = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(y_train), seed=seed)
        .repeat()
        .batch(config.data.global_batch_size, drop_remainder=True)
    )
    model.fit(batches, epochs=1, steps_per_epoch=config.trainer.train_steps, verbose=0)
    predictions = np.argmax(model.predict(x_eval, batch_size=1024, verbose=0), axis=-1)
    return _accuracy(task, predictions, eval_ids, y_eval)


def _table(rows):
    keys = (
        list(TASKS)
        + [f"relative_position: {r}" for r in RELATIONS]
        + ["relative_position, affirmative", "relative_position, negated"]
    )
    lines = ["| hop 1 | seeds | " + " | ".join(keys) + " |", "|---" * (2 + len(keys)) + "|"]
    for name, row in rows.items():
        cells = [f"{100 * row[k]['mean']:.1f} ({100 * row[k]['worst']:.1f})" for k in keys]
        lines.append(f"| {name} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_dir", required=True, help="a finished smem_two_hop_synthetic run")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--hop1", default="own,oracle", help="rows, from: " + ", ".join(HOP1))
    parser.add_argument("--train_steps", type=int, default=None, help="default: the run's own")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    choices = args.hop1.split(",")
    unknown = sorted(set(choices) - set(HOP1))
    if unknown:
        parser.error(f"--hop1: unknown {unknown}; choose from {', '.join(HOP1)}")
    config = load_config(args.model_dir)
    config.trainer.train_steps = args.train_steps or config.trainer.train_steps
    task = make_task(config, args.model_dir)
    grid = data_grid(config)[:2]
    x_train, ids_train, y_train, q_train = _arrays(task, "train")
    x_eval, ids_eval, y_eval, q_eval = _arrays(task, "eval")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for choice in choices:
        oracle = choice != "own"
        train = (_inputs(choice, x_train, ids_train, task.train_examples, q_train, grid), y_train)
        evaluation = (_inputs(choice, x_eval, ids_eval, task.eval_examples, q_eval, grid), y_eval, q_eval)
        per_seed = [run(task, config, seed, oracle, train, evaluation) for seed in seeds]
        name = HOP1[choice]
        rows[name] = {
            k: {"mean": float(np.mean([s[k] for s in per_seed])), "worst": float(min(s[k] for s in per_seed))}
            for k in per_seed[0]
        }
        rows[name]["seeds"] = seeds
        rows[name]["per_seed"] = per_seed
        print(name, {k: round(v["mean"], 3) for k, v in rows[name].items() if isinstance(v, dict)}, flush=True)
    table = _table(rows)
    print(table)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "SMem two-hop with an attention oracle for hop 1",
            (
                f"The grids, questions and recipe of `{os.path.basename(os.path.normpath(args.model_dir))}` "
                f"({config.trainer.train_steps} steps of {config.data.global_batch_size}, Adam "
                f"{config.optimizer.learning_rate}); accuracy (%) on 500 held-out questions per task, mean (worst "
                "seed). An oracle's presence figure is not a measurement (a uniform hop 1 says the object is absent)."
                "\n\n" + table
            ),
            runs=rows,
        )


if __name__ == "__main__":
    main()
