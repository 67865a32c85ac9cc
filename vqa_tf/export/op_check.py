"""Lists the op types a SavedModel uses and checks that TF Serving can run them all.

TF Serving links core TensorFlow and TensorFlow Text kernels; it cannot run
Python-function ops (PyFunc, EagerPyFunc) or ops of any other library.
"""

from tensorflow.python.framework import op_def_registry

from vqa_tf.errors import VqaTfError
from vqa_tf.utils.saved_models import read_saved_model

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


class UnservableOpError(VqaTfError, ValueError):
    """The SavedModel uses ops that TF Serving cannot run."""


def saved_model_op_types(export_dir):
    """Every op type in `saved_model.pb`: the graph and every function of its library."""
    proto = read_saved_model(export_dir)
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    function_names = {
        function.signature.name
        for meta_graph in proto.meta_graphs
        for function in meta_graph.graph_def.library.function
    }
    return ops - function_names  # calls of library functions appear as ops named after them


def check_servable(export_dir):
    """Raises UnservableOpError naming any op that neither TF core nor TF Text registers, or a PyFunc."""
    import tensorflow_text  # noqa: F401  (registers the TF Text ops)

    ops = saved_model_op_types(export_dir)
    python = sorted(ops & PYTHON_OPS)
    unknown = sorted(op for op in ops - PYTHON_OPS if op_def_registry.get(op) is None)
    if python or unknown:
        raise UnservableOpError(
            f"{export_dir} uses ops TF Serving cannot run: "
            + "; ".join(
                filter(
                    None,
                    [
                        f"Python functions {python}" if python else "",
                        f"ops registered by neither TensorFlow nor TensorFlow Text {unknown}" if unknown else "",
                    ],
                )
            )
        )
    return sorted(ops)
