"""Matrix-product FLOPs of a traced TensorFlow function, counted as its graph does them.

Only MatMul and BatchMatMul count, at 2 FLOPs per multiply-add. Ops inside a
while loop (an LSTM's time loop, forward or backward) count once per trip;
ops in called functions count where they are called. At the top level only
the ops the outputs depend on count, as TensorFlow prunes the rest before it
runs the graph: a gradient for a tensor that no trainable variable feeds (the
image features) is built by the tape's MatMul gradient but never computed.

Example:

    function = tf.function(model).get_concrete_function(spec)
    flops = matmul_flops(function, loop_trips=25, batch=1)
"""

import collections
import math

import numpy as np

_MATMULS = ("MatMul", "BatchMatMulV2", "BatchMatMulV3")
_LOOPS = ("While", "StatelessWhile")
_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def _known(shape, batch):
    """`shape` as a list, an unknown dimension (a loop-carried state's rows) taken as `batch`."""
    return [batch if d is None else d for d in shape.as_list()]


def _product(op, batch):
    """(a's shape, b's shape, transpose_a, transpose_b) of one MatMul/BatchMatMul op."""
    if op.type == "MatMul":
        transposes = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    else:
        transposes = op.get_attr("adj_x"), op.get_attr("adj_y")
    return (tuple(_known(op.inputs[0].shape, batch)), tuple(_known(op.inputs[1].shape, batch)), *transposes)


def product_flops(product):
    """FLOPs of one product (a's shape, b's shape, transpose_a, transpose_b), 2 per multiply-add."""
    a, b, transpose_a, transpose_b = product
    rows = a[-1] if transpose_a else a[-2]
    inner = a[-2] if transpose_a else a[-1]
    cols = b[-2] if transpose_b else b[-1]
    count = math.prod(np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])))  # a batched product's batch
    return 2 * count * rows * inner * cols


def _needed(graph, outputs):
    """The ops of `graph` that `outputs` depend on (data or control)."""
    seen, stack = set(), [t.op for t in outputs]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def _products(graph, ops, loop_trips, batch, counts, times=1):
    for op in ops:
        if op.type in _MATMULS:
            counts[_product(op, batch)] += times
        elif op.type in _LOOPS:
            body = graph._get_function(op.get_attr("body").name).graph
            _products(body, body.get_operations(), loop_trips, batch, counts, times * loop_trips)
        elif op.type in _CALLS:
            called = graph._get_function(op.get_attr("f").name).graph
            _products(called, called.get_operations(), loop_trips, batch, counts, times)


def matmul_products(concrete_function, loop_trips, batch):
    """{(a's shape, b's shape, transpose_a, transpose_b): how many times it runs} of the matrix products
    `concrete_function` runs; every while loop makes `loop_trips` trips."""
    graph = concrete_function.graph
    counts = collections.Counter()
    _products(graph, _needed(graph, graph.outputs), loop_trips, batch, counts)
    return dict(counts)


def products_flops(products):
    """FLOPs of {product: count}, as `matmul_products` returns."""
    return sum(count * product_flops(product) for product, count in products.items())


def matmul_flops(concrete_function, loop_trips, batch):
    """FLOPs of the matrix products `concrete_function` runs; every while loop makes `loop_trips` trips."""
    return products_flops(matmul_products(concrete_function, loop_trips, batch))
