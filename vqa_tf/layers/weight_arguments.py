"""Initializer and regularizer arguments of the layers: kept as given, resolved when a weight is made.

A layer stores the argument as the caller gave it (a name, a config dict or an
instance) and resolves it once per weight in `build()`. An unseeded Keras
initializer instance fixes its seed when it is made, so one instance shared by
two weights would give both the same values; `initializer_for_weight` gives
each weight its own copy.
"""

import keras


def initializer_for_weight(value):
    """A new initializer for one weight, from a name, a config dict or an instance.

    Examples:
    >>> shared = keras.initializers.GlorotUniform()
    >>> a, b = initializer_for_weight(shared)((3, 3)), initializer_for_weight(shared)((3, 3))
    >>> bool(np.any(np.asarray(a) != np.asarray(b)))
    True
    """
    if isinstance(value, keras.initializers.Initializer):
        return value.__class__.from_config(value.get_config())
    return keras.initializers.get(value)


def regularizer_for_weight(value):
    """The regularizer of a name, a config dict or an instance; None for None."""
    return keras.regularizers.get(value)


def serialize_argument(value):
    """An initializer or regularizer argument as `get_config` stores it: names, configs and None as given."""
    if value is None or isinstance(value, (str, dict)):
        return value
    return keras.saving.serialize_keras_object(value)
