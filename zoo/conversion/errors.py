"""The errors of writing a model in another form; each carries one message meant for the user."""

__all__ = ["ConversionError", "ExportError"]


class ExportError(RuntimeError):
    """A model could not be written for serving (bad arguments, existing version, unservable graph)."""


class ConversionError(ExportError):
    """A TFLite or ONNX conversion failed or does not reproduce the Keras model."""
