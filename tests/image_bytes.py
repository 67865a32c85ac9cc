"""Encoded images built byte by byte for the request-limit tests: huge, forged and many-scan ones."""

import struct
import zlib

import tensorflow as tf


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(height, width):
    """A real RGB PNG of `height` × `width` black pixels, deflated row by row (15000² → about 650 KiB)."""
    deflate, row = zlib.compressobj(9), bytes(1 + 3 * width)  # filter byte 0, then the row
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def forged_png(png, height, width):
    """`png` whose IHDR declares `height` × `width` (with a valid CRC), the pixel data unchanged."""
    header = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png_chunk(b"IHDR", header) + png[33:]


def forged_jpeg(jpeg, height, width):
    """`jpeg` whose SOF0 frame header declares `height` × `width`."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def small_png(height=64, width=64):
    return tf.io.encode_png(tf.fill([height, width, 3], tf.constant(128, tf.uint8))).numpy()


def small_jpeg(height=64, width=64):
    return tf.io.encode_jpeg(tf.fill([height, width, 3], tf.constant(128, tf.uint8))).numpy()


def repeated_last_scan(jpeg, scans):
    """A progressive `jpeg` with its last scan repeated until it has `scans` start-of-scan markers."""
    starts = [i for i in range(len(jpeg) - 1) if jpeg[i : i + 2] == b"\xff\xda"]
    return jpeg[:-2] + jpeg[starts[-1] : -2] * (scans - len(starts)) + jpeg[-2:]
