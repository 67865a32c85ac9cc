"""TF Serving's gRPC services over a ServableManager: Predict, GetModelMetadata, GetModelStatus."""

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.tensors import MAX_ELEMENTS, fill_proto, from_proto

DEFAULT_SIGNATURE = "serving_default"


def _version(model_spec):
    return model_spec.version.value if model_spec.HasField("version") else None


def _label(model_spec):
    return model_spec.version_label if model_spec.WhichOneof("version_choice") == "version_label" else None


def _abort_on_error(method):
    def wrapped(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(error.code, error.message)

    wrapped.__name__ = method.__name__
    return wrapped


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` for a `grpc.aio` server; Classify, Regress and MultiInference stay
    UNIMPLEMENTED (Keras exports hold predict signatures only).

    `Predict` runs on the server's event loop: with batching on it waits there for the batch
    thread, with no thread of its own; without, the model runs on `executor`. A Predict waits
    no longer than its deadline (DEADLINE_EXCEEDED), and is not run once the deadline has passed.
    `GetModelMetadata` is a plain method, which grpc.aio runs on its thread pool.
    """

    def __init__(self, manager, executor, max_tensor_elements=MAX_ELEMENTS):
        self._manager = manager
        self._executor = executor
        self._max_elements = max_tensor_elements

    async def Predict(self, request, context):
        try:
            return await self._predict(request, context)
        except ServingError as error:
            await context.abort(error.code, error.message)

    async def _predict(self, request, context):
        spec = request.model_spec
        model = self._manager.model(spec.name)
        inputs = {}
        for name, proto in request.inputs.items():
            try:
                inputs[name] = from_proto(proto, self._max_elements)
            except Exception as error:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} is not a readable TensorProto: {error}"
                ) from error
        signature = spec.signature_name or DEFAULT_SIGNATURE
        version, outputs = await model.predict_async(
            inputs, signature, _version(spec), _label(spec), context.time_remaining(), self._executor
        )
        wanted = list(request.output_filter) or sorted(outputs)
        unknown = sorted(set(wanted) - set(outputs))
        if unknown:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"output_filter names {unknown}, not outputs of {signature!r}: {sorted(outputs)}",
            )
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signature
        for name in wanted:
            fill_proto(response.outputs[name], outputs[name])
        return response

    @_abort_on_error
    def GetModelMetadata(self, request, context):
        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"metadata_field must be ['signature_def'], got {fields}"
            )
        spec = request.model_spec
        with self._manager.model(spec.name).lease(_version(spec), _label(spec)) as lease:
            signature_defs = lease.model.signature_defs
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = lease.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus` (HandleReloadConfigRequest stays UNIMPLEMENTED: restart with the new config)."""

    def __init__(self, manager):
        self._manager = manager

    @_abort_on_error
    def GetModelStatus(self, request, context):
        spec = request.model_spec
        return status_response(self._manager.model(spec.name).status(_version(spec)))


def status_response(statuses):
    """The GetModelStatusResponse of [(version, State, error message)]."""
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state, error in statuses:
        status = response.model_version_status.add(version=version, state=state)
        status.status.error_code = grpc.StatusCode.UNKNOWN.value[0] if error else 0
        status.status.error_message = error
    return response


def add_services(server, manager, executor, max_tensor_elements=MAX_ELEMENTS):
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(manager, executor, max_tensor_elements), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(manager), server)
