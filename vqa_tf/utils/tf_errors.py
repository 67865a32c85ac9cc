"""TensorFlow errors as a user should read them."""


def tensorflow_error_message(error):
    """A TensorFlow OpError's message without the "Graph execution error … stack traces" preamble.

    Examples:

        try:
            signature(image=tf.constant([b"not a png"]))
        except tf.errors.InvalidArgumentError as error:
            print(tensorflow_error_message(error))   # the graph's own message, e.g. from its Assert
    """
    lines = error.message.splitlines()
    if lines and lines[0].startswith("Graph execution error") and "<stack traces unavailable>" in lines:
        lines = lines[lines.index("<stack traces unavailable>") + 1 :]
    return "\n".join(lines).strip()
