"""Helpers every other part of vqa_tf may use: files through `tf.io.gfile`, SavedModel layout, progress lines.

Importing this package imports nothing heavy; each module imports what it needs.
"""
