"""`requirement()` of the offline pip hub: the label of a distribution that pip installed."""

def requirement(name):
    """`requirement("tensorflow-text")` → `@pypi//:tensorflow_text`, as rules_python normalizes names."""
    return "@pypi//:" + name.lower().replace("-", "_").replace(".", "_")
