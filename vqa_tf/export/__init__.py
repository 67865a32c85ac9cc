"""Export: a training model_dir as a versioned SavedModel with every preprocessing step in the graph.

from vqa_tf.export import export
export("runs/smem", "runs/smem/exports")     # → runs/smem/exports/1
"""

from vqa_tf.export.input_checks import (
    LIMITS_FILE,
    MAX_BATCH_ROWS,
    MAX_IMAGE_PIXELS,
    MAX_JPEG_SCANS,
    MAX_REQUEST_IMAGE_BYTES,
    MAX_REQUEST_PIXELS,
    ServingLimits,
)
from vqa_tf.export.matching_module import MatchingExportModule
from vqa_tf.export.op_check import UnservableOpError, check_servable, saved_model_op_types
from vqa_tf.export.saved_model_export import export, export_module
from vqa_tf.export.version_claim import claimed_version
from vqa_tf.export.vqa_module import VQAExportModule

__all__ = [
    "LIMITS_FILE",
    "MAX_BATCH_ROWS",
    "MAX_IMAGE_PIXELS",
    "MAX_JPEG_SCANS",
    "MAX_REQUEST_IMAGE_BYTES",
    "MAX_REQUEST_PIXELS",
    "MatchingExportModule",
    "UnservableOpError",
    "ServingLimits",
    "VQAExportModule",
    "check_servable",
    "claimed_version",
    "export",
    "export_module",
    "saved_model_op_types",
]
