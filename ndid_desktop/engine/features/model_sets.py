"""Model sets: which models a scan runs. The set's name goes into the report, and its
signature into the calibration file, so probabilities are never read with the wrong models."""

from __future__ import annotations

from dataclasses import dataclass

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import (
    CLIP_B32,
    LITE0,
    RESNET50,
    SSCD,
    EncoderSpec,
    missing_libraries,
)
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.match.decision import Calibration, CalibrationError, load_calibration


@dataclass(frozen=True)
class ModelSet:
    name: str
    embedding: EncoderSpec | None  # computed for every image; drives the kNN candidates
    gate: EncoderSpec | None  # computed only for images in pairs the cheap signals leave open
    # The keypoint check for ambiguous pairs: a name in match/verify.py's VERIFIERS, or None
    verifier: str | None
    summary: str

    @property
    def signature(self) -> str | None:
        """The models a calibration for this set was fitted with."""
        keys = [s.cache_key for s in (self.embedding, self.gate) if s is not None]
        return "+".join(keys) or None

    @property
    def encoders(self) -> tuple[EncoderSpec, ...]:
        return tuple(s for s in (self.embedding, self.gate) if s is not None)


ORB_CHECK = "orb-homography"  # match/verify.py OrbHomography, by its name in VERIFIERS

MODEL_SETS: dict[str, ModelSet] = {
    s.name: s
    for s in (
        ModelSet("fast", None, None, None, "perceptual hashes only: no model, no keypoint check"),
        ModelSet(
            "standard",
            LITE0,
            None,
            ORB_CHECK,
            "hashes + EfficientNet-Lite0 (works offline) + a keypoint check for ambiguous pairs",
        ),
        ModelSet(
            "thorough",
            RESNET50,
            CLIP_B32,
            ORB_CHECK,
            "hashes + ResNet-50; CLIP and the keypoint check for ambiguous pairs",
        ),
        ModelSet(
            "copydetect",
            SSCD,
            None,
            ORB_CHECK,
            "hashes + Meta's SSCD copy-detection embedding (add its weights file yourself) "
            "+ a keypoint check for ambiguous pairs",
        ),
    )
}
# What a scan falls back to when a set's weights are missing (offline, nothing downloaded).
FALLBACK = "standard"


def model_set(name: str) -> ModelSet:
    try:
        return MODEL_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown model set {name!r}; choose one of {', '.join(MODEL_SETS)}"
        ) from None


@dataclass(frozen=True)
class Resolved:
    """The model set a scan will really run, its calibration, and why it differs if it does."""

    models: ModelSet
    calibration: Calibration
    warnings: tuple[str, ...]


def model_store(config: ScanConfig) -> ModelStore:
    return ModelStore(
        user_dir=config.models_dir,
        bundled_dir=config.bundled_models_dir,
        allow_download=config.allow_download,
    )


def resolve(config: ScanConfig, store: ModelStore) -> Resolved:
    """The requested model set when its weights and calibration are at hand; otherwise the
    fallback set, with a warning that says what is missing and where we looked. Never waits on
    the network: weights are downloaded only when ``config.allow_download`` is set."""
    chosen = model_set(config.model_set)
    warnings: list[str] = []
    for spec in chosen.encoders:
        # Models whose weights come as files (ResNet-50, CLIP) run on torch: without it
        # (the default install), say which extra brings it; downloading would not help.
        problem = missing_libraries(spec) if spec.weights_file is not None else None
        if problem is not None:
            warnings.append(f"model '{spec.name}' needs {problem}")
    if not config.allow_download:
        for spec in chosen.encoders:
            if spec.weights_file is not None:
                location = store.locate(spec.weights_file)
                if location.path is None:
                    warnings.append(location.explain_missing())
    calibration = None
    if not warnings:
        try:
            calibration = load_calibration(
                chosen.name, chosen.signature, config.calibration_path, config.calibration_dir
            )
        except CalibrationError as exc:
            if chosen.name == FALLBACK or config.calibration_path is not None:
                raise
            warnings.append(str(exc))
    if calibration is None:
        chosen = MODEL_SETS[FALLBACK]
        warnings.append(f"scanning with the '{FALLBACK}' model set instead of '{config.model_set}'")
        calibration = load_calibration(chosen.name, chosen.signature, None, config.calibration_dir)
    return Resolved(chosen, calibration, tuple(warnings))
