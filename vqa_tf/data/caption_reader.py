"""Reader and writer for the Karpathy split JSON (Flickr30K and MS-COCO retrieval).

`{"dataset": "flickr30k", "images": [{"filename", "imgid", "split", "sentids",
"sentences": [{"raw", "tokens", "imgid", "sentid"}]}]}`; the COCO file adds
"filepath" (the folder under the images root, "val2014") and "cocoid" to each
image.
"""

import os
import re

from vqa_tf.data.errors import DataError
from vqa_tf.data.examples import CaptionExample
from vqa_tf.data.image_files import verify_image_files
from vqa_tf.data.json_files import get_field, read_json, write_json


def _caption_example(record, index, path, images_root):
    """(where, CaptionExample) of the image record at `index` of `path`: `where` names it as DataError does."""
    imgid = get_field(record, "imgid", int, f"image {index} in {path}")
    where = f"image {index} (imgid {imgid}) in {path}"
    image_id = get_field(record, "cocoid", int, where) if "cocoid" in record else imgid
    folder = get_field(record, "filepath", str, where) if "filepath" in record else ""
    image_path = os.path.join(images_root, folder, get_field(record, "filename", str, where))
    split = get_field(record, "split", str, where)
    sentences = get_field(record, "sentences", list, where)
    if not sentences:
        raise DataError(f"{where}: no captions")
    captions = tuple(get_field(s, "raw", str, f"sentence {i} of {where}") for i, s in enumerate(sentences))
    for i, caption in enumerate(captions):
        if not caption.strip():
            raise DataError(f"sentence {i} of {where}: empty caption")
    return where, CaptionExample(image_id, image_path, captions, split)


def read_karpathy_json(path, images_root, splits=None, check_images=True):
    """Reads the images of a Karpathy split file, with their raw captions.

    `image_id` is the "cocoid" where the file has one (MS-COCO: the id VQA and
    the COCO annotations use for the image), else "imgid" (Flickr30K: the
    image's index in the file). `image_path` is images_root/filepath/filename.

    Args:
        path: the JSON file (dataset_flickr30k.json, dataset_coco.json).
        images_root: the folder the image paths are relative to.
        splits: the splits to keep ("train", "val", "test", "restval"; a
            single name or several); None keeps all. Every image is checked
            for format, whichever split it is in.
        check_images: decode every kept image once with `verify_image_file`;
            pass False to leave bad images to the input pipeline.

    Returns:
        A list of `CaptionExample`, in file order.

    Raises:
        DataError: a missing or malformed file, an image record with a missing
            or mistyped field, an image with no captions, an empty caption, a
            duplicate image_id, a missing or corrupt image file. The message
            names the file and the image (index and imgid).

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "dataset_flickr30k.json")
    >>> examples = [CaptionExample(0, "/f30k/1.jpg", ("A dog runs.", "A brown dog."), "test"),
    ...             CaptionExample(1, "/f30k/2.jpg", ("Two men talk.",), "train")]
    >>> write_karpathy_json(examples, path, "/f30k")
    >>> read_karpathy_json(path, "/f30k", splits="test", check_images=False)
    [CaptionExample(image_id=0, image_path='/f30k/1.jpg', captions=('A dog runs.', 'A brown dog.'),
                    split='test')]
    """
    if isinstance(splits, str):
        splits = (splits,)
    examples, seen = [], set()
    images = get_field(read_json(path), "images", list, f"{path} (top level)")
    for index, record in enumerate(images):
        where, example = _caption_example(record, index, path, images_root)
        if example.image_id in seen:
            raise DataError(f"{where}: duplicate image id {example.image_id}")
        seen.add(example.image_id)
        if splits is None or example.split in splits:
            examples.append(example)
    if check_images:
        verify_image_files((e.image_path, f"image_id {e.image_id} in {path}") for e in examples)
    return examples


def write_karpathy_json(examples, path, images_root, dataset="flickr30k"):
    """Writes `CaptionExample`s as a Karpathy split file.

    Flickr30K layout: "imgid" is the example's image_id, no "cocoid"; an image
    in a subfolder of `images_root` gets a "filepath". Sentence ids run
    0, 1, ... over the file; "tokens" are the lowercased alphanumeric words of
    the caption. Reading it back with the same `images_root` gives equal
    examples. Parent directories are created.

    Args:
        examples: the `CaptionExample`s.
        path: the JSON file to write.
        images_root: the folder the written image paths are relative to.
        dataset: the file's "dataset" field.

    Raises:
        ValueError: an image path outside `images_root`.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "captions.json")
    >>> write_karpathy_json([CaptionExample(4, "/coco/val2014/4.jpg", ("A cat's bed.",), "val")],
    ...                     path, "/coco", dataset="coco")
    >>> read_json(path)["images"][0]["sentences"]
    [{'raw': "A cat's bed.", 'tokens': ['a', 'cat', 's', 'bed'], 'imgid': 4, 'sentid': 0}]
    """
    images, sentid = [], 0
    for e in examples:
        folder, filename = os.path.split(os.path.relpath(e.image_path, images_root))
        if folder.split(os.sep)[0] == os.pardir:
            raise ValueError(f"image_id {e.image_id}: {e.image_path} is not under {images_root}")
        sentences = [
            {"raw": raw, "tokens": _tokens(raw), "imgid": e.image_id, "sentid": sentid + i}
            for i, raw in enumerate(e.captions)
        ]
        image = {"filepath": folder} if folder else {}
        image.update(
            filename=filename,
            imgid=e.image_id,
            split=e.split,
            sentids=[s["sentid"] for s in sentences],
            sentences=sentences,
        )
        images.append(image)
        sentid += len(sentences)
    write_json({"dataset": dataset, "images": images}, path)


def _tokens(caption):
    """Karpathy-style tokens: the lowercased alphanumeric words."""
    return re.findall(r"[a-z0-9]+", caption.lower())
