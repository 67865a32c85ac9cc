"""Reads a model's weights into the dict layout `numpy_reference` expects."""

import keras
import numpy as np

from vqa_tf import layers


def _np(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)


def _walk(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer)


def randomize(model, seed=0, scale=0.3):
    """Gives every weight random normal values, biases included, so all terms matter."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, scale, size=variable.shape).astype("float32"))


def _lstm(cell):
    return (_np(cell.kernel), _np(cell.recurrent_kernel), _np(cell.bias))


def _dense(dense):
    return (_np(dense.kernel), _np(dense.bias))


def reference_weights(model):
    p = {}
    for layer in _walk(model):
        if isinstance(layer, layers.WordEmbedding):
            p["embeddings"] = _np(layer.embeddings)
        elif isinstance(layer, layers.RegionEmbedding):
            p[layer.name] = (_np(layer.kernel), _np(layer.region_bias))
        elif isinstance(layer, layers.BagOfWords) and layer.max_length is not None:
            p["position_weights"] = _np(layer.position_weights)
            p["question_bias"] = _np(layer.bias)
        elif isinstance(layer, keras.layers.Dense):
            p[layer.name] = (_np(layer.kernel), _np(layer.bias))
        elif isinstance(layer, layers.DanTextEncoder):
            p["embeddings"] = _np(layer.word_embedding.embeddings)
            p["lstm_forward"] = _lstm(layer.lstm.forward_layer.cell)
            p["lstm_backward"] = _lstm(layer.lstm.backward_layer.cell)
        elif isinstance(layer, layers.VisualAttentionStart):
            p["visual_start"] = _dense(layer.projection_dense)
        elif isinstance(layer, layers.VisualAttentionStep):
            p[layer.name] = {
                "region": _dense(layer.region_dense),
                "memory": _dense(layer.memory_dense),
                "score_vector": _np(layer.score_vector),
                "projection": _dense(layer.projection_dense),
            }
        elif isinstance(layer, layers.TextualAttentionStep):
            p[layer.name] = {
                "word": _dense(layer.word_dense),
                "memory": _dense(layer.memory_dense),
                "score_vector": _np(layer.score_vector),
            }
    return p
