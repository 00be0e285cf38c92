"""The model set an index is built with, resolved once the way a scan resolves it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import EncoderSpec
from ndid_desktop.engine.features.extract import prepare_onnx
from ndid_desktop.engine.features.model_sets import model_store, resolve
from ndid_desktop.engine.features.model_store import ModelStore
from ndid_desktop.engine.match.decision import StagedDecision
from ndid_desktop.engine.match.verify import VERIFIERS, PairVerifier


@dataclass(frozen=True)
class IndexModels:
    name: str  # the model set that really runs (a fallback when weights are missing)
    spec: EncoderSpec | None  # the embedding encoder
    verifier: PairVerifier | None
    decision: StagedDecision
    store: ModelStore
    config: ScanConfig  # with model_set set to ``name``
    warnings: tuple[str, ...]
    calibration: str  # where the calibration came from

    @property
    def encoder_key(self) -> str:
        return self.spec.cache_key if self.spec is not None else ""

    @property
    def extractor_key(self) -> str:
        return self.verifier.features_key if self.verifier is not None else ""

    @property
    def dim(self) -> int | None:
        return self.spec.dim if self.spec is not None else None

    def onnx_file(self) -> Path | None:
        """The encoder's ONNX file, for workers that embed what they decode."""
        if self.spec is None:
            return None
        return prepare_onnx(self.spec, self.config.models_dir, self.store)


def index_models(config: ScanConfig) -> IndexModels:
    store = model_store(config)
    resolved = resolve(config, store)
    models = resolved.models
    decision = StagedDecision.of(
        resolved.calibration, config.threshold, config.gate_low, config.gate_high
    )
    return IndexModels(
        name=models.name,
        spec=models.embedding,
        verifier=VERIFIERS[models.verifier] if models.verifier is not None else None,
        decision=decision,
        store=store,
        config=replace(config, model_set=models.name),
        warnings=resolved.warnings,
        calibration=resolved.calibration.source,
    )
