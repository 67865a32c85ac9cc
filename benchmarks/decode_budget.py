"""The CPU cost of the costliest requests the exported signature admits at its default limits.

An export bounds what one call may ask the image decoders for (`ServingLimits`:
`max_image_pixels` per image, `max_request_pixels` and
`max_request_image_bytes` per call, `max_batch_rows`). This benchmark builds,
for each kind of image, the largest call within every default limit, calls the
quick start's exported `serving_default` with it in-process (decoding,
resizing, the small CNN and the model), and records the process's CPU seconds
and the wall time of the call (median of `--repeats`). Noisy pixels are the
worst case for both decoders; a progressive JPEG costs the most per pixel,
and more with every scan (each passes over the whole image again), so the
costliest kind repeats its last scan up to `MAX_JPEG_SCANS`.
Target: every admissible call costs at most 1 s of CPU.

Calls just over a limit are timed too: they are refused before decoding.

Usage: python benchmarks/decode_budget.py [--output benchmarks/results/decode_budget.md]
"""

import argparse
import math
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results
from serving_latency import export_model

from vqa_tf.export import MAX_JPEG_SCANS, ServingLimits
from vqa_tf.utils.tf_errors import tensorflow_error_message
from vqa_tf.vision import header_size

LIMITS = ServingLimits()
QUESTION = "is there a red square?"
TARGET_CPU_SECONDS = 1.0


def noise(side, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def with_scans(jpeg, scans):
    """`jpeg` (progressive) with its last scan repeated until it has `scans` scans (libjpeg decodes such a file
    and warns that its progression is inconsistent)."""
    starts = [i for i in range(len(jpeg) - 1) if jpeg[i : i + 2] == b"\xff\xda"]
    last = jpeg[starts[-1] : -2]  # the last scan, up to the end-of-image marker
    return jpeg[:-2] + last * (scans - len(starts)) + jpeg[-2:]


def progressive_noise(side, quality):
    return tf.io.encode_jpeg(noise(side), quality=quality, progressive=True).numpy()


ENCODERS = {
    "PNG of flat pixels": lambda side: tf.io.encode_png(tf.zeros([side, side, 3], tf.uint8)).numpy(),
    "PNG of noise": lambda side: tf.io.encode_png(noise(side), compression=1).numpy(),
    "baseline JPEG of noise, quality 100": lambda side: tf.io.encode_jpeg(noise(side), quality=100).numpy(),
    "progressive JPEG of noise, quality 100": lambda side: progressive_noise(side, 100),
    "progressive JPEG of noise, quality 75": lambda side: progressive_noise(side, 75),
    f"progressive JPEG of noise, quality 75, {MAX_JPEG_SCANS} scans": lambda side: with_scans(
        progressive_noise(side, 75), MAX_JPEG_SCANS
    ),
}


def largest_call(encode, rows):
    """(images, side): `rows` copies of the largest square image of this kind the default limits admit."""
    side = math.isqrt(min(LIMITS.max_image_pixels, LIMITS.max_request_pixels // rows))
    probe = encode(256)
    bytes_per_pixel = len(probe) / 256**2
    side = min(side, math.isqrt(int(LIMITS.max_request_image_bytes / rows / bytes_per_pixel)))
    while True:
        image = encode(side)
        if rows * len(image) <= LIMITS.max_request_image_bytes:
            return [image] * rows, side
        side = int(side * 0.97)


def cost(serve, images, repeats):
    """(median CPU seconds, median wall seconds, error message or None) of calls with these images."""
    question, image = tf.constant([QUESTION] * len(images)), tf.constant(images)
    cpu, wall, error = [], [], None
    for _ in range(repeats):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        try:
            serve(question=question, image=image)["answer"].numpy()
        except tf.errors.InvalidArgumentError as failure:
            error = tensorflow_error_message(failure).splitlines()[0][:200]
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
    return float(np.median(cpu)), float(np.median(wall)), error


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table.")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        _, path, _ = export_model(directory)
        import tensorflow_text  # noqa: F401

        serve = tf.saved_model.load(path).signatures["serving_default"]
        small = ENCODERS["PNG of flat pixels"](64)
        cost(serve, [small], 2)  # warm-up
        rows = []
        for name, encode in ENCODERS.items():
            for count in (2, LIMITS.max_batch_rows):
                images, side = largest_call(encode, count)
                cpu, wall, error = cost(serve, images, args.repeats)
                rows.append(
                    {
                        "images": f"{count} × {name}, {side}×{side}",
                        "rows": count,
                        "pixels": count * side * side,
                        "bytes": sum(len(i) for i in images),
                        "cpu_seconds": cpu,
                        "wall_seconds": wall,
                        "refused": error,
                    }
                )
                print(rows[-1], flush=True)
        flat, side = largest_call(ENCODERS["PNG of flat pixels"], 2)
        flat_jpeg = tf.io.encode_jpeg(tf.zeros([2048, 2048, 3], tf.uint8), progressive=True).numpy()
        over = {
            f"2 × PNG of flat pixels, {side}×{side}, and one more 64×64 (over max_request_pixels)": flat + [small],
            f"1 × progressive JPEG of flat pixels, 2048×2048, {MAX_JPEG_SCANS + 1} scans (over max_jpeg_scans)": [
                with_scans(flat_jpeg, MAX_JPEG_SCANS + 1)
            ],
        }
        for name, images in over.items():
            cpu, wall, error = cost(serve, images, args.repeats)
            sizes = [header_size(image).numpy() for image in images]
            rows.append(
                {
                    "images": name,
                    "rows": len(images),
                    "pixels": int(sum(int(size[0]) * int(size[1]) for size in sizes)),
                    "bytes": sum(len(i) for i in images),
                    "cpu_seconds": cpu,
                    "wall_seconds": wall,
                    "refused": error,
                }
            )
            print(rows[-1], flush=True)

    admitted = [row for row in rows if row["refused"] is None]
    worst = max(admitted, key=lambda row: row["cpu_seconds"])
    lines = [
        "The quick start's SMem two-hop export (64×64 inputs, small CNN), called in-process through "
        f"`serving_default` at the default limits: max_batch_rows={LIMITS.max_batch_rows}, "
        f"max_image_pixels={LIMITS.max_image_pixels}, max_request_pixels={LIMITS.max_request_pixels}, "
        f"max_request_image_bytes={LIMITS.max_request_image_bytes}. Each row is the largest call of one kind "
        f"of image those limits admit; CPU is the process's CPU seconds during the call (all threads), median "
        f"of {args.repeats} calls.",
        "",
        "| images | pixels declared | bytes | CPU (s) | wall (s) | refused |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row['images']} | {row['pixels']} | {row['bytes']} | {row['cpu_seconds']:.3f} | "
        f"{row['wall_seconds']:.3f} | {row['refused'] or '—'} |"
        for row in rows
    ]
    lines += [
        "",
        f"Target: the costliest admissible call ({worst['images']}) takes {worst['cpu_seconds']:.2f} s of CPU "
        f"(target ≤ {TARGET_CPU_SECONDS:.0f} s: {'met' if worst['cpu_seconds'] <= TARGET_CPU_SECONDS else 'missed'}).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        write_results(
            args.output,
            command_line(),
            "Decode budget: the costliest admissible requests",
            text,
            limits={
                "max_batch_rows": LIMITS.max_batch_rows,
                "max_image_pixels": LIMITS.max_image_pixels,
                "max_request_pixels": LIMITS.max_request_pixels,
                "max_request_image_bytes": LIMITS.max_request_image_bytes,
            },
            calls=rows,
            worst_admissible_cpu_seconds=worst["cpu_seconds"],
        )


if __name__ == "__main__":
    main()
