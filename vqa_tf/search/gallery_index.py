"""A FAISS index over a gallery's m-DAN embeddings, and search by sentence.

m-DAN scores a pair by the dot product of its embeddings (Nam et al., 2017), so
both index types rank by inner product:

* `exact`: `IndexFlatIP`, every gallery embedding scored; the reference.
* `ivf_flat`: `IndexIVFFlat`, the gallery clustered into `nlist` inverted
  lists (k-means on at most 40 embeddings per list) and each query scored against the
  `nprobe` lists whose centroids score highest. It keeps the embeddings
  uncompressed, so the ranking inside the probed lists is exact.

FAISS rather than ScaNN: it ships CPU wheels for Linux, macOS and Windows that
do not depend on the TensorFlow version, has exact and inverted-file indexes
over inner product in one API, and serializes an index to bytes, which
`tf.io.gfile` can then write anywhere.
"""

import math
import posixpath

import numpy as np
import tensorflow as tf

from vqa_tf.search.errors import GalleryError, IncompleteGalleryError
from vqa_tf.search.gallery_embedding import GALLERY_FILE, load_signature, read_shard, shard_path
from vqa_tf.utils.files import atomic_path, read_json, write_json

INDEX_TYPES = ("exact", "ivf_flat")
INDEX_FILE = "index.faiss"
META_FILE = "index.json"


def read_gallery(embedding_dir):
    """(paths [n], embeddings float32 [n, D]) of every shard `embed_gallery` wrote; IncompleteGalleryError
    naming the missing shards if some worker has not finished, GalleryError if no image could be embedded."""
    settings_path = posixpath.join(embedding_dir, GALLERY_FILE)
    if not tf.io.gfile.exists(settings_path):
        raise GalleryError(f"{embedding_dir} holds no embedded gallery ({GALLERY_FILE} is missing): run vqa-index")
    settings = read_json(settings_path)
    num_shards = settings["num_shards"]
    missing = [s for s in range(num_shards) if not tf.io.gfile.exists(shard_path(embedding_dir, s, num_shards))]
    if missing:
        raise IncompleteGalleryError(
            f"{embedding_dir}: shards {missing} of {num_shards} are not written yet; run "
            "the workers that write them (a rerun resumes where it stopped)"
        )
    parts, paths = [], []
    for shard in range(num_shards):
        embeddings, kept, _ = read_shard(shard_path(embedding_dir, shard, num_shards))
        parts.append(embeddings.reshape([-1, settings["dim"]]))
        paths += kept
    if not paths:
        raise GalleryError(f"{embedding_dir}: no image of the gallery could be embedded (see the shards' reasons)")
    return paths, np.concatenate(parts).astype(np.float32)


def default_nlist(size):
    """About 4·√n inverted lists, with at least 39 training points each (FAISS's k-means minimum)."""
    return max(1, min(int(round(4 * math.sqrt(size))), size // 39))


def training_sample(embeddings, nlist, seed=0):
    """The embeddings k-means learns the `nlist` lists from: all of them, or 40 per list drawn at random
    (FAISS asks for 39 to 256 per list; more only slows the clustering of a large gallery)."""
    if len(embeddings) <= 40 * nlist:
        return embeddings
    rows = np.random.default_rng(seed).choice(len(embeddings), 40 * nlist, replace=False)
    return embeddings[np.sort(rows)]


def default_nprobe(nlist):
    """An eighth of the lists (at least one)."""
    return max(1, math.ceil(nlist / 8))


class GalleryIndex:
    """Gallery embeddings in a FAISS inner-product index, with the image path of each.

    Examples:

        index = GalleryIndex.build(paths, embeddings, "ivf_flat")
        scores, found = index.search(query_embeddings, k=5)   # found[q] lists the top 5 paths for query q
        index.save("/gallery/index"); GalleryIndex.load("/gallery/index")
    """

    def __init__(self, index, paths, index_type):
        self.index, self.paths, self.index_type = index, list(paths), index_type

    @classmethod
    def build(cls, paths, embeddings, index_type="ivf_flat", nlist=None, nprobe=None):
        import faiss

        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if len(paths) != len(embeddings) or not len(paths):
            raise GalleryError(
                f"an index needs one embedding per image and at least one image: "
                f"got {len(paths)} paths and {len(embeddings)} embeddings"
            )
        dim = embeddings.shape[1]
        if index_type == "exact":
            index = faiss.IndexFlatIP(dim)
        elif index_type == "ivf_flat":
            nlist = nlist or default_nlist(len(embeddings))
            if nlist > len(embeddings):
                raise GalleryError(f"nlist {nlist} is more than the gallery's {len(embeddings)} images")
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(training_sample(embeddings, nlist))
            index.nprobe = min(nlist, nprobe or default_nprobe(nlist))
        else:
            raise GalleryError(f"unknown index type {index_type!r}; valid: {', '.join(INDEX_TYPES)}")
        index.add(embeddings)
        return cls(index, paths, index_type)

    @classmethod
    def build_from(cls, embedding_dir, index_type="ivf_flat", nlist=None, nprobe=None):
        """The index of the gallery `embed_gallery` wrote to `embedding_dir`."""
        return cls.build(*read_gallery(embedding_dir), index_type, nlist, nprobe)

    @property
    def dim(self):
        return self.index.d

    def nearest(self, queries, k):
        """(scores float32 [Q, k'], [[position in `paths`] * k'] * Q) of the k' = min(k, gallery size) best
        images per query."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise GalleryError(f"queries have {queries.shape[1]} dimensions; the index has {self.dim}")
        scores, ids = self.index.search(queries, min(k, len(self.paths)))
        return scores, [[int(i) for i in row if i >= 0] for row in ids]

    def search(self, queries, k):
        """(scores float32 [Q, k'], [[path] * k'] * Q) of the k' = min(k, gallery size) best images per query."""
        scores, numbers = self.nearest(queries, k)
        return scores, [[self.paths[i] for i in row] for row in numbers]

    def save(self, directory):
        """Writes the index and its paths to `directory` (local or a URL), which appears only when complete."""
        import faiss

        with atomic_path(directory, overwrite=False) as temporary:
            tf.io.gfile.makedirs(temporary)
            with tf.io.gfile.GFile(posixpath.join(temporary, INDEX_FILE), "wb") as f:
                f.write(faiss.serialize_index(self.index).tobytes())
            write_json(posixpath.join(temporary, META_FILE), {"index_type": self.index_type, "paths": self.paths})

    @classmethod
    def load(cls, directory):
        import faiss

        meta_path = posixpath.join(directory, META_FILE)
        if not tf.io.gfile.exists(meta_path):
            raise GalleryError(f"{directory} holds no gallery index ({META_FILE} is missing): run vqa-index")
        meta = read_json(meta_path)
        with tf.io.gfile.GFile(posixpath.join(directory, INDEX_FILE), "rb") as f:
            index = faiss.deserialize_index(np.frombuffer(f.read(), dtype=np.uint8))
        return cls(index, meta["paths"], meta["index_type"])


class GallerySearch:
    """Sentences → the gallery's best images: the export's `embed_text`, then the index.

    Examples:

        search = GallerySearch("/exports/mdan", "/gallery/index")
        search.search(["a red square left of a blue circle"], k=5)   # [[(path, score), …]]
    """

    def __init__(self, export, index_dir):
        self.export_path, self._embed = load_signature(export, "embed_text")
        self.index = GalleryIndex.load(index_dir)
        dim = int(self._embed.structured_outputs["embedding"].shape[-1])
        if dim != self.index.dim:
            raise GalleryError(
                f"{self.export_path} embeds text in {dim} dimensions but the index at {index_dir} "
                f"holds {self.index.dim}: index the gallery with this export"
            )

    def embed(self, sentences):
        return self._embed(caption=tf.constant(list(sentences), tf.string))["embedding"].numpy()

    def search(self, sentences, k=5):
        scores, found = self.index.search(self.embed(sentences), k)
        return [list(zip(paths, row.tolist())) for paths, row in zip(found, scores)]
