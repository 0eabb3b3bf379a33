"""The errors the export package raises; each carries one message meant for the user."""

__all__ = ["ConversionError", "ExportError"]


class ExportError(RuntimeError):
    """An export could not be written (bad arguments, existing version, unservable graph)."""


class ConversionError(ExportError):
    """A TFLite or ONNX conversion failed or does not reproduce the Keras model."""
