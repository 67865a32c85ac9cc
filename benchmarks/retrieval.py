"""Gallery search: recall and queries/s of FAISS's inverted-file index (`ivf_flat`) against exact search.

Two data sets, each searched by inner product as m-DAN scores (Nam et al., 2017):

1. **The synthetic caption gallery.** An m-DAN trained on the synthetic
   caption set (`mdan_synthetic`, `--train_steps` steps) is exported; its
   `embed_image` endpoint embeds the held-out images (`GalleryEmbedder`, as
   `vqa-index` does) and `embed_text` their captions. A query is one caption;
   Recall@K is the share of captions whose own image is among the K best.
2. **10⁶ random vectors** of m-DAN's embedding size at the paper preset
   ((K+1)·hidden = 3·512 = 1536), standard normal. A query is a gallery
   vector plus normal noise of standard deviation `--noise` per dimension
   (cosine to its source about 1/√(1+noise²)); Recall@K is the share of queries
   whose source is among the K best.

For each index: Recall@1/5/10, queries/s at batch 1 and batch 64 (search
alone, embeddings given), the build time, and the memory the index holds
(its vectors, ids and centroids). `ivf_flat` is measured at the library's
defaults (about 4·√n lists, an eighth of them probed) and probing a 32nd and
half of them, so the table shows what each point of recall costs. Target: the
ANN index's Recall@1/5/10 within 1 point of exact search.

Usage: python benchmarks/retrieval.py [--output benchmarks/results/retrieval.md]
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.export import export
from vqa_tf.search import GalleryEmbedder, GalleryIndex
from vqa_tf.search.gallery_embedding import load_signature
from vqa_tf.search.gallery_index import default_nlist, default_nprobe
from vqa_tf.training import make_task, train

KS = (1, 5, 10)
PAPER_DIM = 3 * 512  # m-DAN's embedding at the paper preset: K + 1 = 3 steps of hidden size 512


def index_mb(index):
    """What a GalleryIndex holds in memory: its float32 vectors, plus for ivf_flat an 8-byte id per vector
    and the lists' centroids."""
    size = index.index.ntotal * index.dim * 4
    if index.index_type == "ivf_flat":
        size += index.index.ntotal * 8 + index.index.nlist * index.dim * 4
    return size / 2**20


def recalls(found, targets):
    """{"recall@K": share of queries whose target is in the first K found} for K in KS."""
    ranks = [row.index(target) if target in row else len(row) for row, target in zip(found, targets)]
    return {f"recall@{k}": float(np.mean([rank < k for rank in ranks])) for k in KS}


def queries_per_s(index, queries, batch, seconds=3.0, most=2000):
    """Queries/s of `index` searching `queries` (top 10) in batches of `batch`, for about `seconds`."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and done < most:
        rows = np.arange(done, done + batch) % len(queries)
        index.search(queries[rows], 10)
        done += batch
    return done / (time.perf_counter() - start)


def measure(dataset, paths, embeddings, queries, targets, index_type, nprobes=(None,)):
    """One row per nprobe of an index of `index_type` built once on one data set."""
    start = time.perf_counter()
    index = GalleryIndex.build(paths, embeddings, index_type)
    build_s = time.perf_counter() - start
    rows = []
    for nprobe in nprobes:
        method = "exact"
        if index_type == "ivf_flat":
            index.index.nprobe = nprobe
            method = f"ivf_flat (nlist {index.index.nlist}, nprobe {nprobe})"
        found = []
        for start in range(0, len(queries), 256):
            found += index.search(queries[start : start + 256], max(KS))[1]
        row = {
            "method": method,
            "dataset": dataset,
            **recalls(found, targets),
            "queries_per_s": queries_per_s(index, queries, 64),
            "queries_per_s_batch_1": queries_per_s(index, queries, 1),
            "build_s": build_s,
            "index_memory_mb": index_mb(index),
            "gallery_size": len(paths),
            "dim": embeddings.shape[1],
            "nprobe": nprobe or 0,
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def search_all(dataset, paths, embeddings, queries, targets):
    """Exact search, then ivf_flat at its default lists probing a 32nd, the default eighth and half of them."""
    nlist = default_nlist(len(paths))
    nprobes = sorted({max(1, nlist // 32), default_nprobe(nlist), max(1, nlist // 2)})
    return measure(dataset, paths, embeddings, queries, targets, "exact") + measure(
        dataset, paths, embeddings, queries, targets, "ivf_flat", nprobes
    )


def caption_gallery(work_dir, train_steps):
    """(image paths, image embeddings, caption embeddings, the image index of each caption)."""
    model_dir = os.path.join(work_dir, "mdan")
    config = apply_overrides(get_experiment("mdan_synthetic"), f"trainer.train_steps={train_steps}")
    train(config, model_dir)
    base = os.path.join(work_dir, "exports")
    export(model_dir, base)
    examples = make_task(config, model_dir).eval_examples
    embedder = GalleryEmbedder(base)
    paths = [e.image_path for e in examples]
    embeddings, kept, skipped = embedder.embed(paths)
    assert kept == paths and not skipped, skipped
    _, embed_text = load_signature(base, "embed_text")
    captions = [(i, caption) for i, e in enumerate(examples) for caption in e.captions]
    text = np.concatenate(
        [
            embed_text(caption=tf.constant([c for _, c in captions[s : s + 256]]))["embedding"].numpy()
            for s in range(0, len(captions), 256)
        ]
    )
    return paths, embeddings, text, [paths[i] for i, _ in captions]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the table (the JSON twin goes beside it).")
    parser.add_argument("--train_steps", type=int, default=1500, help="m-DAN training steps for the caption gallery")
    parser.add_argument("--random_size", type=int, default=1_000_000, help="random vectors in the second gallery")
    parser.add_argument("--random_queries", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.5, help="per-dimension noise of a random-vector query")
    parser.add_argument(
        "--work_dir", default=None, help="where the m-DAN is trained and exported (default: a temp dir)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        paths, images, text, targets = caption_gallery(args.work_dir or temporary, args.train_steps)
    rows = search_all("synthetic captions", paths, images, text, targets)
    del images, text

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.random_size, PAPER_DIM), dtype=np.float32)
    sources = rng.choice(args.random_size, args.random_queries, replace=False)
    queries = vectors[sources] + args.noise * rng.standard_normal((args.random_queries, PAPER_DIM), dtype=np.float32)
    names = np.arange(args.random_size).tolist()
    rows += search_all(f"{args.random_size:,} random vectors", names, vectors, queries, sources.tolist())

    lines = [
        "| dataset | method | gallery | recall@1 | recall@5 | recall@10 | queries/s, batch 64 | queries/s, batch 1 "
        "| build (s) | index memory (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['gallery_size']:,} × {r['dim']} | {r['recall@1']:.3f} | "
            f"{r['recall@5']:.3f} | {r['recall@10']:.3f} | {r['queries_per_s']:.0f} | "
            f"{r['queries_per_s_batch_1']:.0f} | {r['build_s']:.1f} | {r['index_memory_mb']:.0f} |"
        )
    verdicts = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        exact = next(r for r in rows if r["dataset"] == dataset and r["method"] == "exact")
        for r in rows:
            if r["dataset"] != dataset or r["method"] == "exact":
                continue
            worst = max(exact[f"recall@{k}"] - r[f"recall@{k}"] for k in KS) * 100
            verdicts.append(
                f"* {dataset}, {r['method']}: at most {worst:.1f} points below exact "
                f"(target ≤ 1: {'met' if worst <= 1 else 'missed'}), "
                f"{r['queries_per_s'] / exact['queries_per_s']:.1f}× its queries/s at batch 64."
            )
    text = "\n".join(
        [
            f"Caption gallery: an m-DAN trained {args.train_steps} steps on the synthetic caption set, its held-out "
            "images embedded by the export's `embed_image` and every caption of them by `embed_text`; a caption's "
            f"target is its own image. Random gallery: standard normal vectors of {PAPER_DIM} dimensions (m-DAN's "
            f"embedding at the paper preset); {args.random_queries} queries, each a gallery vector plus noise of "
            f"standard deviation {args.noise} per dimension, whose target is that vector. Search by inner product, "
            "top 10; queries/s are search alone, on the 2 cores FAISS uses; index memory counts the vectors, ids "
            "and centroids the index holds. Each data set's ivf_flat index is built once; its rows differ in nprobe "
            "alone.",
            "",
            *lines,
            "",
            "Targets:",
            "",
            *verdicts,
        ]
    )
    print(text)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "Gallery search: inverted file against exact search",
            text,
            rows=rows,
            train_steps=args.train_steps,
            noise=args.noise,
        )


if __name__ == "__main__":
    main()
