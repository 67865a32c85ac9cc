"""Version numbers for exporters that may run at the same time: each claims its number before writing.

On a local or network disk a claim is a lock file, `<base>/.claim-<version>`,
that appears already locked (`fcntl.flock`, held by the exporting process and
released by the kernel when that process dies, even by SIGKILL) and is
created by `os.link`, which fails if the name exists: of two exporters, one
gets the number and the other the next. A claim whose lock can be taken
belongs to a dead exporter; the next export removes it with the temporary
directory it left (`atomic_path`'s `.tmp-*-<version>`).

Object stores have no exclusive create, so there the next free number is
taken without a claim: exporters that may run concurrently into a bucket
must each give their own version.
"""

import contextlib
import errno
import fcntl
import os
import posixpath
import re
import uuid

import tensorflow as tf

from vqa_tf.utils.files import is_local, remove_tree
from vqa_tf.utils.saved_models import versions

CLAIM_PREFIX = ".claim-"
_CLAIM = re.compile(rf"^{re.escape(CLAIM_PREFIX)}(\d+)$")


def _claims(base):
    return sorted(int(match.group(1)) for name in os.listdir(base) if (match := _CLAIM.match(name)))


def _try_lock(path):
    """A descriptor holding the lock on the file at `path`, or None if a live process holds it (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


def remove_stale_claims(base):
    """Removes the claims of dead exporters, and the temporary directories they left; returns their versions."""
    removed = []
    for version in _claims(base):
        path = posixpath.join(base, f"{CLAIM_PREFIX}{version}")
        fd = _try_lock(path)
        if fd is None:
            continue
        try:
            # The file may have been released and replaced since it was opened: only the locked one is removed.
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
                for name in os.listdir(base):  # while the claim exists nobody else can write this version
                    if name.startswith(".tmp-") and name.endswith(f"-{version}"):
                        remove_tree(posixpath.join(base, name))
                os.unlink(path)
                removed.append(version)
        finally:
            os.close(fd)
    return removed


def _claim(base, version):
    """A descriptor holding the new claim of `version`, or None if another exporter claimed it first."""
    pending = posixpath.join(base, f".claim-pending-{uuid.uuid4().hex}")
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.uname().nodename} {os.getpid()}\n".encode())
        os.link(pending, posixpath.join(base, f"{CLAIM_PREFIX}{version}"))
    except FileExistsError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        os.unlink(pending)
    return fd


@contextlib.contextmanager
def claimed_version(base, version=None):
    """Yields a version number under `base` that no other exporter holds: `version`, or the next free one.

    The number is held until the block ends. A given `version` that exists, or
    that another exporter holds, raises FileExistsError.

    Examples:

        with claimed_version("/models/smem") as version:
            with atomic_path(f"/models/smem/{version}", overwrite=False) as temporary:
                ...  # write the SavedModel to `temporary`
    """
    base = os.fspath(base)
    tf.io.gfile.makedirs(base)
    if not is_local(base):
        yield _free_version(base, version, [])
        return
    remove_stale_claims(base)
    while True:
        candidate = _free_version(base, version, _claims(base))
        fd = _claim(base, candidate)
        if fd is None:
            if version is not None:
                raise FileExistsError(f"version {version} under {base} is being exported by another process")
            continue
        if not tf.io.gfile.exists(posixpath.join(base, str(candidate))):
            break
        _release(base, candidate, fd)  # an exporter finished it between the listing and the claim
        if version is not None:
            raise FileExistsError(f"{base}/{version} exists; versions are never overwritten")
    try:
        yield candidate
    finally:
        _release(base, candidate, fd)


def _release(base, version, fd):
    os.unlink(posixpath.join(base, f"{CLAIM_PREFIX}{version}"))
    os.close(fd)


def _free_version(base, version, claimed):
    if version is None:
        return max(versions(base) + claimed, default=0) + 1
    if tf.io.gfile.exists(posixpath.join(base, str(version))):
        raise FileExistsError(f"{base}/{version} exists; versions are never overwritten (pick another --version)")
    return version
