"""How a sharded batch job splits over workers: worker i of n takes the shards s with s mod n == i."""


def worker_shards(num_shards, num_workers, worker_index):
    """The shards worker `worker_index` of `num_workers` writes.

    Examples:
    >>> worker_shards(num_shards=5, num_workers=2, worker_index=1)
    [1, 3]
    """
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index={worker_index} must lie in [0, num_workers={num_workers})")
    return [s for s in range(num_shards) if s % num_workers == worker_index]
