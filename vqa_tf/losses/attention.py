"""Attention supervision: a loss on how much of each hop's attention lies on the answer's evidence."""

from keras import ops

EPSILON = 1e-6  # floor of the attention mass on the evidence, so that a hop wholly off it costs −log ε, not ∞


def evidence_attention_loss(attention, evidence):
    """Per-example −mean_k log Σ_n α⁽ᵏ⁾_n e⁽ᵏ⁾_n: hop k's attention weight on its evidence cells, over hops.

    The loss asks for attention mass anywhere on the evidence (the cells of the
    objects the answer rests on), not for a particular distribution over it.
    Hop k reads evidence target min(k, targets − 1): one target trains every
    hop onto it, one per named object trains hop k onto the k-th. An example
    without evidence (an absent object, a count of zero) costs 0.

    Args:
        attention: [batch, hops, h, w] attention maps, each summing to 1.
        evidence: [batch, targets, h, w], 1 on the evidence cells and 0 elsewhere.

    Examples:
    >>> attention = np.full((2, 1, 2, 2), 0.25, "float32")
    >>> evidence = np.array([[[[1, 0], [0, 0]]], [[[0, 0], [0, 0]]]], "float32")
    >>> [round(float(x), 4) for x in evidence_attention_loss(attention, evidence)]  # −log 0.25 and 0
    [1.3863, 0.0]
    """
    attention = ops.cast(attention, "float32")
    evidence = ops.cast(evidence, "float32")
    hops, targets = attention.shape[1], evidence.shape[1]
    per_hop = ops.take(evidence, [min(k, targets - 1) for k in range(hops)], axis=1)  # [batch, hops, h, w]
    mass = ops.sum(attention * per_hop, axis=(2, 3))  # [batch, hops]
    per_example = -ops.mean(ops.log(ops.maximum(mass, EPSILON)), axis=1)
    return ops.where(ops.max(evidence, axis=(1, 2, 3)) > 0, per_example, ops.zeros_like(per_example))
