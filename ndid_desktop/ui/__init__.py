"""The PySide6 desktop app. It only adapts the engine (models, views, workers); no detection
logic lives here."""
