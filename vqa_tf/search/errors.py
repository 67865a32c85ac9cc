"""The one exception type for a gallery that cannot be embedded, indexed or searched."""

from vqa_tf.errors import VqaTfError


class GalleryError(VqaTfError, ValueError):
    """An empty or incomplete gallery, or an index that does not match its export. The message names it."""


class IncompleteGalleryError(GalleryError):
    """Some shards of the gallery are not written yet: other workers, or a rerun, still have to write them."""
