"""The errors the export package raises; each carries one message meant for the user.

They are defined with the conversions they come from (``zoo.conversion.errors``), since the
tagging runtimes convert models too; ``except ExportError`` catches a failed conversion.
"""
from zoo.conversion.errors import ConversionError, ExportError

__all__ = ["ConversionError", "ExportError"]
