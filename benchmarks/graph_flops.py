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

_MATMULS = ("MatMul", "BatchMatMulV2", "BatchMatMulV3")
_LOOPS = ("While", "StatelessWhile")
_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def _product_flops(op, batch):
    """FLOPs of one MatMul/BatchMatMul op; an unknown row count (a loop-carried state) is `batch`."""
    out = [batch if d is None else d for d in op.outputs[0].shape.as_list()]
    b = op.inputs[1].shape.as_list()
    if op.type == "MatMul":
        inner = b[1] if op.get_attr("transpose_b") else b[0]
    else:
        inner = b[-1] if op.get_attr("adj_y") else b[-2]
    rows = 1
    for dim in out[:-1]:
        rows *= dim
    return 2 * rows * inner * out[-1]


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


def _graph_flops(graph, ops, loop_trips, batch):
    total = 0
    for op in ops:
        if op.type in _MATMULS:
            total += _product_flops(op, batch)
        elif op.type in _LOOPS:
            body = graph._get_function(op.get_attr("body").name).graph
            total += loop_trips * _graph_flops(body, body.get_operations(), loop_trips, batch)
        elif op.type in _CALLS:
            called = graph._get_function(op.get_attr("f").name).graph
            total += _graph_flops(called, called.get_operations(), loop_trips, batch)
    return total


def matmul_flops(concrete_function, loop_trips, batch):
    """FLOPs of the matrix products `concrete_function` runs; every while loop makes `loop_trips` trips."""
    graph = concrete_function.graph
    return _graph_flops(graph, _needed(graph, graph.outputs), loop_trips, batch)
