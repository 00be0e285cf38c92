"""Errors shared by several engine modules."""


class EncoderUnavailableError(RuntimeError):
    """An encoder's weights or libraries are missing; the message says what and where we looked."""
