"""Serving: TF Serving clients, the REST and gRPC codecs, and the local stand-in for `tensorflow_model_server`.

Nothing here imports the training stack or a Keras model: a serving process
loads SavedModels with TensorFlow and TensorFlow Text alone.

    from vqa_tf.serving import GrpcClient
    client = GrpcClient("localhost:8500")
    client.predict("smem", {"question": ["is there a red square?"], "image": [png_bytes]})
"""

from vqa_tf.serving.clients import GrpcClient, RestClient, SavedModelClient
from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.server_process import LocalServerProcess

__all__ = ["GrpcClient", "LocalServerProcess", "RestClient", "SavedModelClient", "ServingError"]
