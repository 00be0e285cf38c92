"""A content fingerprint of a file: what "unchanged since the scan" is checked against.

Size and modification time are not enough (``exiftool -P`` rewrites a file and keeps both), so
the scan records a hash of every byte. xxHash's XXH3-128 runs at memory speed (measured here:
0.07 ms for 4 MB, against 4.7 ms for BLAKE2b), so hashing a photo costs far less than decoding it;
it guards against accidents and edits, not against an adversary forging collisions.
"""

from __future__ import annotations

import os

import xxhash

PREFIX = "xxh3-128:"
_CHUNK = 1 << 20


def fingerprint_file(path: str | os.PathLike[str]) -> str:
    """The fingerprint of the file's current bytes (follows symlinks, like open())."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return PREFIX + digest.hexdigest()
