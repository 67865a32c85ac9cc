"""Gallery search with an exported m-DAN: embed a gallery once, then find images by a sentence.

m-DAN is a dual encoder (Nam et al., 2017): an image's embedding does not depend on
the query, so `embed_gallery` runs the export's `embed_image` over a gallery
as a sharded, resumable batch job, `GalleryIndex` indexes the embeddings with
FAISS (exact, or approximate with an inverted file), and `GallerySearch`
embeds a sentence with `embed_text` and looks it up.

    from vqa_tf.search import GalleryEmbedder, GalleryIndex, GallerySearch, embed_gallery, list_images
    embed_gallery(GalleryEmbedder("/exports/mdan/1"), list_images("/photos"), "/gallery", num_shards=4)
    GalleryIndex.build_from("/gallery", "ivf_flat").save("/gallery/index")
    GallerySearch("/exports/mdan/1", "/gallery/index").search(["a red square left of a blue circle"], k=5)

Like `vqa_tf.serving`, nothing here imports the training stack or a Keras model.
"""

from vqa_tf.search.errors import GalleryError, IncompleteGalleryError
from vqa_tf.search.gallery_embedding import GalleryEmbedder, embed_gallery, list_images
from vqa_tf.search.gallery_index import INDEX_TYPES, GalleryIndex, GallerySearch

__all__ = [
    "INDEX_TYPES",
    "GalleryEmbedder",
    "GalleryError",
    "GalleryIndex",
    "GallerySearch",
    "IncompleteGalleryError",
    "embed_gallery",
    "list_images",
]
