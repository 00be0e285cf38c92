import numpy as np

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.hashes import compute_hashes
from ndid_desktop.engine.match.candidates import (
    embedding_neighbours,
    find_candidates,
    hash_neighbours,
)

from .conftest import textured


def test_hash_search_finds_copies_in_any_orientation_and_nothing_else() -> None:
    from PIL import Image

    base = textured(1)
    pictures = [base, base.transpose(Image.Transpose.ROTATE_90), textured(2), textured(3)]
    hashes = np.stack([compute_hashes(p) for p in pictures])
    pairs = hash_neighbours(hashes, radius=8)
    assert pairs.tolist() == [[0, 1]]


def test_embedding_neighbours_keep_close_pairs_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 64)).astype(np.float32)
    x[7] = x[3] + 0.05 * rng.normal(size=64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = embedding_neighbours(x, k=5, min_cosine=0.9, exact_max=10_000)
    approx = embedding_neighbours(x, k=5, min_cosine=0.9, exact_max=10)  # forces HNSW
    assert exact.tolist() == [[3, 7]]
    assert approx.tolist() == [[3, 7]]


def test_two_reference_files_are_never_paired() -> None:
    img = textured(4)
    hashes = np.stack([compute_hashes(img)] * 3)
    reference = np.array([True, True, False])
    found = find_candidates(hashes, None, reference, ScanConfig(model_set="fast"))
    assert found.pairs.tolist() == [[0, 2], [1, 2]]
