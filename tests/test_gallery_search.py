"""Gallery search with an exported m-DAN: the sharded, resumable embedding job, the FAISS indexes against a
NumPy ranking, and bad galleries (empty, an undecodable image, a killed job)."""

import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf
from training_runs import env, program

from vqa_tf.search import GalleryEmbedder, GalleryError, GalleryIndex, GallerySearch, embed_gallery, list_images
from vqa_tf.search.gallery_embedding import read_shard, shard_path
from vqa_tf.search.gallery_index import read_gallery
from vqa_tf.training import make_task


@pytest.fixture(scope="module")
def mdan(mdan_export, tmp_path_factory):
    """(export base path, gallery directory of 32 synthetic evaluation PNGs, {image file name: its first caption})."""
    model_dir, path, config = mdan_export
    base = os.path.dirname(path)
    gallery = tmp_path_factory.mktemp("gallery")
    captions = {}
    for example in make_task(config, model_dir).eval_examples[:32]:
        name = os.path.basename(example.image_path)
        shutil.copy(example.image_path, gallery / name)
        captions[name] = example.captions[0]
    return base, str(gallery), captions


def _run(*args, timeout=600):
    return subprocess.run(
        [*program("serving.index_gallery"), *args], capture_output=True, text=True, timeout=timeout, env=env()
    )


def test_search_ranks_the_gallery_as_numpy_does_with_the_exported_embeddings(mdan, tmp_path):
    base, gallery, captions = mdan
    embedder = GalleryEmbedder(base, batch_size=5)  # batches that do not divide the shards
    paths = list_images(gallery)
    assert embed_gallery(embedder, paths, str(tmp_path / "out"), num_shards=3) == (3, 0, [])
    found_paths, embeddings = read_gallery(str(tmp_path / "out"))
    assert found_paths == paths and embeddings.shape == (32, embedder.dim)
    GalleryIndex.build_from(str(tmp_path / "out"), "exact").save(str(tmp_path / "index"))
    search = GallerySearch(base, str(tmp_path / "index"))

    # the reference: the export's own signatures, called directly, ranked by a NumPy dot product
    loaded = tf.saved_model.load(embedder.export_path)
    images = tf.constant([open(p, "rb").read() for p in paths])
    z_v = loaded.signatures["embed_image"](image=images)["embedding"].numpy()
    queries = [captions[os.path.basename(p)] for p in paths[:6]]
    z_u = loaded.signatures["embed_text"](caption=tf.constant(queries))["embedding"].numpy()
    np.testing.assert_allclose(embeddings, z_v, rtol=1e-5, atol=1e-5)
    scores = z_u.astype(np.float64) @ z_v.T.astype(np.float64)
    for query_scores, found in zip(scores, search.search(queries, k=5)):
        expected = np.argsort(-query_scores, kind="stable")[:5]
        np.testing.assert_allclose([s for _, s in found], query_scores[expected], rtol=1e-4, atol=1e-4)
        assert [p for p, _ in found][0] == paths[expected[0]]


def test_the_inverted_file_index_finds_what_exact_search_finds_on_near_duplicates():
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(4000, 48)).astype(np.float32)
    names = [f"image{i}" for i in range(len(gallery))]
    targets = rng.choice(len(gallery), 200, replace=False)
    queries = gallery[targets] + 0.3 * rng.normal(size=(200, 48)).astype(np.float32)
    exact = GalleryIndex.build(names, gallery, "exact")
    approximate = GalleryIndex.build(names, gallery, "ivf_flat")
    assert approximate.index.nlist == 102 and approximate.index.nprobe == 13  # the documented defaults
    _, exact_found = exact.search(queries, 10)
    _, approximate_found = approximate.search(queries, 10)
    expected = [names[t] for t in targets]
    exact_hits = np.mean([e == found[0] for e, found in zip(expected, exact_found)])
    approximate_hits = np.mean([e == found[0] for e, found in zip(expected, approximate_found)])
    assert exact_hits == 1.0 and approximate_hits >= 0.99
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate_found, exact_found)])
    assert overlap > 0.5  # the other nine are far from the query: lists beyond nprobe hold some of them


def test_an_index_saved_and_loaded_answers_the_same(tmp_path):
    rng = np.random.default_rng(1)
    gallery = rng.normal(size=(500, 16)).astype(np.float32)
    index = GalleryIndex.build([f"p{i}" for i in range(500)], gallery, "ivf_flat", nlist=8, nprobe=2)
    index.save(str(tmp_path / "index"))
    loaded = GalleryIndex.load(str(tmp_path / "index"))
    queries = rng.normal(size=(5, 16))
    np.testing.assert_array_equal(index.search(queries, 7)[0], loaded.search(queries, 7)[0])
    assert loaded.search(queries, 7)[1] == index.search(queries, 7)[1] and loaded.index.nprobe == 2
    with pytest.raises(FileExistsError):
        index.save(str(tmp_path / "index"))


def test_an_empty_gallery_is_refused_by_name(mdan, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(GalleryError, match=f"the gallery {tmp_path / 'empty'} holds no JPEG or PNG images"):
        list_images(str(tmp_path / "empty"))
    done = _run(f"--export={mdan[0]}", f"--images={tmp_path / 'empty'}", f"--output_dir={tmp_path / 'out'}")
    assert done.returncode == 1 and "holds no JPEG or PNG images" in done.stderr, done.stderr[-2000:]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.png").write_bytes(b"not a png")
    _, _, left_out = embed_gallery(
        GalleryEmbedder(mdan[0]), list_images(str(tmp_path / "bad")), str(tmp_path / "bad_out"), num_shards=1
    )
    assert [path for path, _ in left_out] == [str(tmp_path / "bad" / "broken.png")]
    with pytest.raises(GalleryError, match="no image of the gallery could be embedded"):
        read_gallery(str(tmp_path / "bad_out"))


def test_an_undecodable_or_unreadable_image_is_named_and_the_job_goes_on(mdan, tmp_path):
    base, gallery, _ = mdan
    shutil.copytree(gallery, tmp_path / "gallery")
    (tmp_path / "gallery" / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "gallery" / "zz_missing.png").symlink_to(tmp_path / "nowhere.png")
    done = _run(
        f"--export={base}",
        f"--images={tmp_path / 'gallery'}",
        f"--output_dir={tmp_path / 'out'}",
        "--num_shards=2",
        "--batch_size=8",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "left out 2 images" in done.stdout
    assert f"left out {tmp_path / 'gallery' / 'zz_corrupt.png'}:" in done.stdout
    assert "neither JPEG nor PNG" in done.stdout
    assert f"left out {tmp_path / 'gallery' / 'zz_missing.png'}: cannot be read" in done.stdout
    assert "indexed 32 images (ivf_flat)" in done.stdout
    _, kept, skipped = read_shard(shard_path(str(tmp_path / "out"), 1, 2))
    assert [os.path.basename(p) for p, _ in skipped] == ["zz_corrupt.png", "zz_missing.png"]
    assert len(kept) == 17 - 2


def test_workers_split_the_shards_and_the_last_one_builds_the_index(mdan, tmp_path):
    base, gallery, captions = mdan
    out = tmp_path / "out"
    common = [
        f"--export={base}",
        f"--images={gallery}",
        f"--output_dir={out}",
        "--num_shards=4",
        "--num_workers=2",
        "--index_type=exact",
    ]
    first = _run(*common, "--worker_index=1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "embedded 2 shards" in first.stdout and "index not built yet" in first.stdout
    assert sorted(os.listdir(out)) == ["embeddings-00001-of-00004.npz", "embeddings-00003-of-00004.npz", "gallery.json"]
    second = _run(*common, "--worker_index=0")
    assert second.returncode == 0 and "indexed 32 images (exact)" in second.stdout, second.stderr[-3000:]
    assert sorted(GalleryIndex.load(str(out / "index")).paths) == list_images(gallery)
    name = sorted(captions)[0]
    searched = subprocess.run(
        [
            *program("serving.search_gallery"),
            f"--export={base}",
            f"--index={out / 'index'}",
            f"--query={captions[name]}",
            "--k=3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env(),
    )
    assert searched.returncode == 0, searched.stderr[-3000:]
    assert searched.stdout.splitlines()[0] == captions[name] and len(searched.stdout.splitlines()) == 4
    other = _run(*common[:3], "--num_shards=5")
    assert other.returncode == 1 and "num_shards" in other.stderr and "use a new output directory" in other.stderr


@pytest.mark.slow
def test_a_killed_indexing_job_resumes_where_it_stopped(mdan, tmp_path):
    base, gallery, _ = mdan
    out = tmp_path / "out"
    args = [f"--export={base}", f"--images={gallery}", f"--output_dir={out}", "--num_shards=16", "--batch_size=1"]
    job = subprocess.Popen(
        [*program("serving.index_gallery"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out.is_dir() and any(n.endswith(".npz") for n in os.listdir(out))):
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.communicate(timeout=60)
    finished = [n for n in os.listdir(out) if n.endswith(".npz")]
    assert 1 <= len(finished) < 16 and not (out / "index").exists()
    before = {n: (out / n).read_bytes() for n in finished}
    done = _run(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"embedded {16 - len(finished)} shards" in done.stdout
    assert f"skipped {len(finished)} finished shards" in done.stdout and "indexed 32 images" in done.stdout
    assert all((out / n).read_bytes() == data for n, data in before.items())  # the finished shards were kept
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]  # the rerun left no partial file behind


def test_an_export_without_embed_image_is_refused_by_name(smem_export):
    with pytest.raises(GalleryError, match="has no 'embed_image' endpoint .* export an m-DAN"):
        GalleryEmbedder(smem_export[1])
