"""Embeds an image gallery with an exported m-DAN's `embed_image` endpoint, as a sharded, resumable batch job.

Images are sorted by path and split into `num_shards` contiguous shards;
worker i of `num_workers` writes the shards s with s mod num_workers == i, as
`vqa-extract-features` does, so one gallery spreads over many machines writing
to the same directory. Each shard is one `.npz` file that appears only when
complete, so a rerun after a crash skips the finished shards and redoes the
rest. An image that cannot be read or decoded is named in a warning and left
out; its shard records it with the reason, and the job goes on.
"""

import io
import posixpath

import numpy as np
import tensorflow as tf
from absl import logging

from vqa_tf.search.errors import GalleryError
from vqa_tf.utils.files import read_json, write_bytes, write_json
from vqa_tf.utils.saved_models import SAVED_MODEL_FILE, versions
from vqa_tf.utils.sharding import worker_shards
from vqa_tf.utils.tf_errors import tensorflow_error_message

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what the export decodes
GALLERY_FILE = "gallery.json"  # the job's settings, the same for every worker


def shard_path(directory, shard, num_shards):
    return posixpath.join(directory, f"embeddings-{shard:05d}-of-{num_shards:05d}.npz")


def list_images(images):
    """Sorted paths of the JPEG and PNG files under the directory `images`, or matching the glob `images`.

    Examples:

        list_images("/photos")          # every .jpg/.jpeg/.png below /photos
        list_images("/photos/*.png")
    """
    if tf.io.gfile.isdir(images):
        paths = [posixpath.join(folder, name) for folder, _, names in tf.io.gfile.walk(images) for name in names]
    else:
        paths = tf.io.gfile.glob(images)
    paths = sorted(p for p in paths if p.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise GalleryError(f"the gallery {images} holds no JPEG or PNG images")
    return paths


def _saved_model_dir(export):
    """`export` if it is a SavedModel directory, else the newest integer version under it."""
    if tf.io.gfile.exists(posixpath.join(export, SAVED_MODEL_FILE)):
        return export
    found = versions(export)
    if not found:
        raise GalleryError(f"{export} is neither a SavedModel nor a base path of SavedModel versions")
    return posixpath.join(export, str(found[-1]))


def load_signature(export, name):
    """(SavedModel directory, signature `name`) of a SavedModel or of the newest version under a base path."""
    import tensorflow_text  # noqa: F401  (registers the TF Text ops of the export's graph)

    path = _saved_model_dir(export)
    signatures = tf.saved_model.load(path).signatures
    if name not in signatures:
        raise GalleryError(f"{path} has no {name!r} endpoint (it has {sorted(signatures)}): export an m-DAN")
    return path, signatures[name]


class GalleryEmbedder:
    """Image files → embeddings with the `embed_image` endpoint of an exported m-DAN.

    Examples:

        embedder = GalleryEmbedder("/exports/mdan")          # the newest version
        embeddings, kept, skipped = embedder.embed(["/photos/a.jpg", "/photos/broken.jpg"])
        skipped   # [("/photos/broken.jpg", "… Invalid PNG data …")]
    """

    def __init__(self, export, batch_size=32):
        self.export_path, self._embed = load_signature(export, "embed_image")
        self.dim = int(self._embed.structured_outputs["embedding"].shape[-1])
        self.batch_size = batch_size

    def embed(self, paths):
        """(embeddings float32 [n, D], the n paths embedded, [(path, reason)] of the images left out)."""
        parts, kept, skipped = [], [], []
        for start in range(0, len(paths), self.batch_size):
            batch = []
            for path in paths[start : start + self.batch_size]:
                try:
                    with tf.io.gfile.GFile(path, "rb") as f:
                        batch.append((path, f.read()))
                except (OSError, tf.errors.OpError) as error:
                    skipped.append((path, f"cannot be read: {getattr(error, 'message', error)}"))
            try:
                embedded = self._run([data for _, data in batch]) if batch else np.zeros([0, self.dim], np.float32)
                parts.append(embedded)
                kept += [path for path, _ in batch]
            except tf.errors.InvalidArgumentError:  # a bad image in the batch: find it, embed the rest
                for path, data in batch:
                    try:
                        parts.append(self._run([data]))
                        kept.append(path)
                    except tf.errors.InvalidArgumentError as error:
                        skipped.append((path, " ".join(tensorflow_error_message(error).split())[:500]))
        for path, reason in skipped:
            logging.warning("left out %s: %s", path, reason)
        return (np.concatenate(parts) if parts else np.zeros([0, self.dim], np.float32)), kept, skipped

    def _run(self, images):
        return self._embed(image=tf.constant(images, tf.string))["embedding"].numpy()


def _shard_bytes(embeddings, paths, skipped):
    buffer = io.BytesIO()
    np.savez(
        buffer,
        embeddings=embeddings.astype(np.float32),
        paths=np.array(paths, dtype=str),
        skipped_paths=np.array([p for p, _ in skipped], dtype=str),
        skipped_reasons=np.array([r for _, r in skipped], dtype=str),
    )
    return buffer.getvalue()


def read_shard(path):
    """(embeddings [n, D], paths [n], [(path, reason)] left out) of one shard file."""
    with tf.io.gfile.GFile(path, "rb") as f:
        arrays = np.load(io.BytesIO(f.read()), allow_pickle=False)
        return (
            arrays["embeddings"],
            list(arrays["paths"]),
            list(zip(arrays["skipped_paths"], arrays["skipped_reasons"])),
        )


def _check_settings(output_dir, settings):
    """Writes the job's settings, or checks them against those an earlier worker or run wrote."""
    path = posixpath.join(output_dir, GALLERY_FILE)
    if tf.io.gfile.exists(path):
        written = read_json(path)
        if written != settings:
            changed = sorted(key for key in settings if written.get(key) != settings[key])
            raise GalleryError(
                f"{output_dir} holds a gallery embedded with other settings ({', '.join(changed)} "
                f"differ: {written} vs {settings}); use a new output directory"
            )
    else:
        write_json(path, settings)


def embed_gallery(embedder, paths, output_dir, num_shards, worker_index=0, num_workers=1):
    """Writes this worker's shards of `paths`; returns (shards written, shards skipped as done, images left out)."""
    if not paths:
        raise GalleryError("the gallery holds no images")
    if num_shards < 1:
        raise GalleryError(f"num_shards must be at least 1, got {num_shards}")
    _check_settings(
        output_dir,
        {
            "num_shards": num_shards,
            "num_images": len(paths),
            "dim": embedder.dim,
            "first_image": paths[0],
            "last_image": paths[-1],
        },
    )
    blocks = np.array_split(np.arange(len(paths)), num_shards)
    written, done, left_out = 0, 0, []
    for shard in worker_shards(num_shards, num_workers, worker_index):
        path = shard_path(output_dir, shard, num_shards)
        if tf.io.gfile.exists(path):
            done += 1
            continue
        embeddings, kept, skipped = embedder.embed([paths[i] for i in blocks[shard]])
        write_bytes(path, _shard_bytes(embeddings, kept, skipped))
        logging.info("wrote %s: %d images, %d left out", posixpath.basename(path), len(kept), len(skipped))
        written += 1
        left_out += skipped
    return written, done, left_out
