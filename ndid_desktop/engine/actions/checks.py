"""The checks made on real files, both when a plan is made and again at the moment of moving.

Every comparison is on canonical paths and on what the scan recorded; nothing a report says is
believed. A check returns None when the file is fine, else the reason in words.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from ndid_desktop.engine.actions.scan_record import RecordedFile
from ndid_desktop.engine.files.fingerprint import fingerprint_file


def inside(real: str, roots: Sequence[str]) -> bool:
    """Whether a canonical path lies in one of the canonical roots."""
    for root in roots:
        try:
            if os.path.commonpath([real, root]) == root:
                return True
        except ValueError:  # different drives on Windows
            continue
    return False


@dataclass
class FileChecker:
    """Checks files against the scan record. Fingerprints are recomputed unless the file's full
    stat, ctime included (which no tool can set back), is one already hashed by this checker or
    by the plan it continues (``hashed``): any write since would have changed it."""

    roots: Sequence[str]
    hashed: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def problem(self, f: RecordedFile) -> str | None:
        if os.path.islink(f.path):
            return "it is a symbolic link; NDID only moves or keeps real files"
        if os.path.realpath(f.real) != f.real:
            return "its folder was replaced by a link since the scan"
        if not inside(f.real, self.roots):
            return "it is outside the scanned folders"
        try:
            st = os.lstat(f.real)
        except FileNotFoundError:
            return "it is no longer there"
        except OSError as exc:
            return f"it cannot be checked ({exc.strerror or exc})"
        if not stat.S_ISREG(st.st_mode):
            return "it is no longer a regular file"
        if (st.st_dev, st.st_ino) != (f.device, f.inode):
            return (
                "it is not the file the scan read (another file was put in its place, or "
                "another disk mounted over its folder)"
            )
        if st.st_size != f.size:
            return "it changed since the scan"
        return self._content_problem(f, st)

    def _content_problem(self, f: RecordedFile, st: os.stat_result) -> str | None:
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self.hashed.get(f.real) == identity:
            return None
        if not f.fingerprint:
            return "the scan recorded no fingerprint of it; scan again"
        try:
            current = fingerprint_file(f.real)
        except OSError as exc:
            return f"it cannot be read ({exc.strerror or exc})"
        if current != f.fingerprint:
            return "its content changed since the scan"
        self.hashed[f.real] = identity
        return None


def same_file(a: str, b: str) -> bool:
    """Two names for one file (hard link, aliasing): trashing one frees nothing, keeps nothing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
