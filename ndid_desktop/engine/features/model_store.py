"""The model store: where each model's weights are, and how to get them.

Weights are looked for, in order, in: the user's models folder; the folder bundled next to the
application (packaged builds); the frameworks' own caches (torch hub, Hugging Face). When none
has them and downloading is allowed, they are fetched with a progress callback, checked (size
and, where known, SHA-256), resumed after an interruption, and moved into place atomically.
Offline, a missing model is reported with every place we looked, and nothing waits on the
network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DownloadProgress = Callable[[int, int], None]  # (bytes so far, total bytes or 0)
NETWORK_TIMEOUT = 20.0  # seconds without data before a download gives up
CHUNK = 1 << 16


class ModelMissingError(RuntimeError):
    """A model's weights are nowhere we looked; the message lists where and how to add them."""


class ModelDownloadError(RuntimeError):
    """A download failed or gave a file that does not check out."""


@dataclass(frozen=True)
class ModelFile:
    """One weights file and everything needed to find, fetch and check it."""

    model: str  # the encoder name it serves
    filename: str
    url: str
    size: int | None = None  # bytes, when known
    sha256_prefix: str | None = None  # torchvision names files by a hash prefix
    license: str = ""
    hf_repo: str | None = None  # Hugging Face repo holding the same file
    torch_hub: bool = False  # cached by torch.hub under checkpoints/
    note: str = ""
    # Other names the same weights are accepted under in the models and bundled folders
    # (a user's own copy, named by them); downloads are always saved as ``filename``.
    other_names: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.filename, *self.other_names)


def _hf_cache_root() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "hub"


def _torch_hub_root() -> Path:
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]) / "hub"
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return xdg / "torch" / "hub"


def framework_cache_paths(spec: ModelFile) -> list[Path]:
    """Where torch hub and the Hugging Face cache would have put this file."""
    paths: list[Path] = []
    if spec.torch_hub:
        paths.append(_torch_hub_root() / "checkpoints" / spec.filename)
    if spec.hf_repo:
        repo_dir = _hf_cache_root() / ("models--" + spec.hf_repo.replace("/", "--"))
        snapshots = repo_dir / "snapshots"
        if snapshots.is_dir():
            paths += sorted(p / spec.filename for p in snapshots.iterdir())
        else:
            paths.append(snapshots / "<revision>" / spec.filename)
    return paths


@dataclass(frozen=True)
class Location:
    spec: ModelFile
    path: Path | None  # None: not found
    searched: tuple[Path, ...]
    source: str = ""  # "models folder", "bundled", "torch hub cache", ...

    def explain_missing(self) -> str:
        places = "\n".join(f"  - {p}" for p in self.searched)
        also = "".join(f" (or as {name})" for name in self.spec.other_names)
        return (
            f"model '{self.spec.model}' is not available: {self.spec.filename} was not found in\n"
            f"{places}\nDownload it with 'ndid models fetch {self.spec.model}' when online, or "
            f"copy {self.spec.filename} (from {self.spec.url}) into your models folder{also}."
        )


@dataclass(frozen=True)
class ModelStore:
    """Resolves weights files; holds no state beyond where to look."""

    user_dir: Path | None = None
    bundled_dir: Path | None = None
    allow_download: bool = False
    use_framework_caches: bool = True
    extra: Sequence[Path] = field(default_factory=tuple)

    def candidates(self, spec: ModelFile) -> list[tuple[Path, str]]:
        found: list[tuple[Path, str]] = []
        if self.user_dir is not None:
            found += [(self.user_dir / name, "models folder") for name in spec.names]
        if self.bundled_dir is not None:
            found += [(self.bundled_dir / name, "bundled with the app") for name in spec.names]
        if self.use_framework_caches:
            found += [(p, "framework cache") for p in framework_cache_paths(spec)]
        return found

    def locate(self, spec: ModelFile) -> Location:
        searched: list[Path] = []
        for path, source in self.candidates(spec):
            searched.append(path)
            if path.is_file() and path.stat().st_size > 0:
                return Location(spec, path, tuple(searched), source)
        return Location(spec, None, tuple(searched))

    def require(self, spec: ModelFile, progress: DownloadProgress | None = None) -> Path:
        """The weights' path: found locally, or downloaded when allowed; else ModelMissingError."""
        location = self.locate(spec)
        if location.path is not None:
            return location.path
        if not self.allow_download or self.user_dir is None:
            raise ModelMissingError(location.explain_missing())
        return download(spec, self.user_dir / spec.filename, progress)


def download(
    spec: ModelFile,
    target: Path,
    progress: DownloadProgress | None = None,
    attempts: int = 3,
    timeout: float = NETWORK_TIMEOUT,
) -> Path:
    """Fetch ``spec.url`` to ``target``: resumes a partial file, checks size and hash, and
    moves the file into place only when it checks out. A corrupt result is deleted and the
    download retried from scratch."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _fetch_into(spec.url, partial, progress, timeout)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            last_error = exc  # keep the partial file: the next attempt resumes it
            continue
        problem = _check(spec, partial)
        if problem is None:
            os.replace(partial, target)
            return target
        partial.unlink(missing_ok=True)  # corrupt: start clean next time
        last_error = ModelDownloadError(problem)
    raise ModelDownloadError(f"could not download {spec.filename} from {spec.url}: {last_error}")


def _fetch_into(url: str, partial: Path, progress: DownloadProgress | None, timeout: float) -> None:
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = response.status == 206
        if not resumed:
            have = 0  # the server ignored the range: start over
        length = int(response.headers.get("Content-Length") or 0)
        total = have + length if length else 0
        with partial.open("ab" if resumed else "wb") as out:
            while chunk := response.read(CHUNK):  # a stall raises TimeoutError after `timeout`
                out.write(chunk)
                have += len(chunk)
                if progress is not None:
                    progress(have, total)
        if total and have < total:
            raise OSError(f"connection closed after {have} of {total} bytes")


def _check(spec: ModelFile, path: Path) -> str | None:
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{spec.filename} has {size} bytes, expected {spec.size}"
    if spec.sha256_prefix is not None:
        digest = sha256_of(path)
        if not digest.startswith(spec.sha256_prefix):
            return f"{spec.filename} checksum {digest[:12]}... does not match {spec.sha256_prefix}"
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


RESNET50_FILE = ModelFile(
    model="resnet50",
    filename="resnet50-11ad3fa6.pth",
    url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    sha256_prefix="11ad3fa6",
    license="BSD-3-Clause (torchvision)",
    torch_hub=True,
    note="torchvision ResNet50_Weights.IMAGENET1K_V2",
)
CLIP_B32_FILE = ModelFile(
    model="clip-vit-b-32",
    filename="open_clip_model.safetensors",
    url="https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/main/open_clip_model.safetensors",
    license="MIT (LAION, open_clip)",
    hf_repo="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    note="open_clip ViT-B-32 laion2b_s34b_b79k image tower",
)
# Meta's SSCD copy-detection descriptor as TorchScript, from the facebookresearch/
# sscd-copy-detection README's table of pretrained models. No size or SHA-256 is recorded:
# none is published, and inventing one would refuse the real file. A user's own TorchScript
# export is accepted as sscd.pt. Either way the file is unchecked, and the feature cache and
# calibration signature key SSCD by its spec's name@version, not the file's bytes (the cache
# key is a fixed property of the spec, not of the file found): replacing the file with other
# weights needs the cache cleared and a new calibration.
SSCD_FILE = ModelFile(
    model="sscd-disc-mixup",
    filename="sscd_disc_mixup.torchscript.pt",
    url="https://dl.fbaipublicfiles.com/sscd-copy-detection/sscd_disc_mixup.torchscript.pt",
    # The repository was relicensed from CC-BY-NC 4.0 to MIT on 2022-07-18 (commit 6db4262);
    # its README states the licence of the codebase and says nothing else about the weights.
    license="MIT (facebookresearch/sscd-copy-detection; CC-BY-NC 4.0 before July 2022)",
    note="Meta's SSCD, ResNet-50 trained on DISC2021, as TorchScript",
    other_names=("sscd.pt",),
)
MODEL_FILES: dict[str, ModelFile] = {f.model: f for f in (RESNET50_FILE, CLIP_B32_FILE, SSCD_FILE)}
