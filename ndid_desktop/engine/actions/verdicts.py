"""The user's own verdicts: pairs of files they marked "not duplicates".

Kept as a small JSON file in the user's data folder (user data, unlike the cache, which may be
deleted at any time); every later scan scores such a pair 0, so it can never group them again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class Verdicts:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._pairs: set[tuple[str, str]] = set()
        if path is not None and path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            self._pairs = {_key(a, b) for a, b in data.get("not_duplicates", [])}

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return _key(*pair) in self._pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def mark_not_duplicates(self, paths: Iterable[str]) -> None:
        """Every pair among ``paths`` is different pictures (a wrong group, or one pair)."""
        items = sorted(set(paths))
        self._pairs |= {_key(a, b) for i, a in enumerate(items) for b in items[i + 1 :]}
        self._save()

    def mark_apart(self, first: Iterable[str], second: Iterable[str]) -> None:
        """Every file of ``first`` is a different picture from every file of ``second`` (a
        group the user split in two); pairs inside each part are left alone."""
        others = list(second)
        self._pairs |= {_key(a, b) for a in first for b in others if a != b}
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"not_duplicates": sorted(list(p) for p in self._pairs)}
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=True), encoding="utf-8")
        os.replace(tmp, self.path)
