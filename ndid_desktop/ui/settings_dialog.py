"""Settings: sensitivity (shown as the precision it is expected to give), file types, and the
models folder with what it holds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QWidget,
)

from ndid_desktop.engine.config import DEFAULT_EXTENSIONS


@dataclass(frozen=True)
class UserSettings:
    threshold: float | None  # None: the calibration's own
    extensions: frozenset[str]
    models_dir: Path


def expected_precision(points: list[list[float]], threshold: float) -> tuple[float, float] | None:
    """(precision, recall) the calibration measured, read off its operating points at this
    threshold: straight-line between the two points around it, so the words follow the slider
    (the calibration keeps a point only every few hundredths). Past the last point, the last
    one's; below the first, None: nothing was measured there."""
    ordered = sorted(points)
    if not ordered or threshold < ordered[0][0] - 1e-9:
        return None
    for (t0, p0, r0), (t1, p1, r1) in itertools.pairwise(ordered):
        if t0 - 1e-9 <= threshold <= t1 + 1e-9:
            share = (threshold - t0) / (t1 - t0) if t1 > t0 else 0.0
            return p0 + share * (p1 - p0), r0 + share * (r1 - r0)
    _, precision, recall = ordered[-1]
    return precision, recall


class SettingsDialog(QDialog):
    def __init__(
        self,
        current: UserSettings,
        default_threshold: float,
        points: list[list[float]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.points = points
        self.default_threshold = default_threshold
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(50, 999)  # threshold x 1000
        value = current.threshold if current.threshold is not None else default_threshold
        self.slider.setValue(round(value * 1000))
        self.meaning = QLabel()
        self.slider.valueChanged.connect(self._explain)
        reset = QPushButton(self.tr("Calibrated default"))
        reset.clicked.connect(lambda: self.slider.setValue(round(default_threshold * 1000)))
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(reset)
        self.extensions = QLineEdit(" ".join(sorted(current.extensions)))
        self.models = QLineEdit(str(current.models_dir))
        browse = QPushButton(self.tr("Choose…"))
        browse.clicked.connect(self._choose_models)
        models_row = QHBoxLayout()
        models_row.addWidget(self.models, 1)
        models_row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow(self.tr("Sensitivity"), row)
        form.addRow("", self.meaning)
        form.addRow(self.tr("File types"), self.extensions)
        form.addRow(self.tr("Models folder"), models_row)
        form.addRow("", QLabel(self.tr("Put ResNet-50 / CLIP weights here for the 'thorough' "
                                       "set; 'ndid models' lists what is found.")))  # fmt: skip
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._explain()

    def _explain(self) -> None:
        threshold = self.slider.value() / 1000
        measured = expected_precision(self.points, threshold)
        if measured is None:
            lowest = min((p[0] for p in self.points), default=None)
            text = self.tr("threshold {t:.3f}: not measured on the calibration photos").format(
                t=threshold
            )
            if lowest is not None:
                below = self.tr(" (their lowest measured threshold is {t:.2f})")
                text += below.format(t=lowest)
        else:
            text = self.tr(
                "threshold {t:.3f}: on the calibration photos, {p:.2%} of the pairs it accepts "
                "were real duplicates, and it found {r:.1%} of them"
            ).format(t=threshold, p=measured[0], r=measured[1])
        self.meaning.setText(text)

    def _choose_models(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Models folder"), self.models.text()
        )
        if folder:
            self.models.setText(folder)

    def result_settings(self) -> UserSettings:
        threshold = self.slider.value() / 1000
        if abs(threshold - self.default_threshold) < 0.0005:
            chosen: float | None = None
        else:
            chosen = threshold
        words = {
            w if w.startswith(".") else f".{w}" for w in self.extensions.text().lower().split()
        }
        return UserSettings(
            chosen, frozenset(words) or DEFAULT_EXTENSIONS, Path(self.models.text())
        )
