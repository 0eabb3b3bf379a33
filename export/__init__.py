"""Export zoo models for serving: versioned SavedModels for TF Serving, TFLite and ONNX.

    >>> from export import export_saved_model, write_model_config
    >>> exported = export_saved_model("musicnn-vertical-horizontal", "models", weights="mtt")
    >>> write_model_config("models/models.config", ["musicnn-vertical-horizontal"])

Command line: ``python -m export --model=ID --base_path=DIR`` (``--help`` lists the rest).
Clients for a running server: ``export.client``. TFLite / ONNX: ``export.to_tflite``,
``export.to_onnx``.
"""
from zoo.lazy import lazy_attributes

__all__ = [
    "ConversionError",
    "ExportError",
    "ExportedModel",
    "batching_parameters",
    "build_servable_model",
    "check_core_ops",
    "existing_versions",
    "export_onnx",
    "export_saved_model",
    "export_tflite",
    "exported_model_names",
    "model_server_config",
    "next_version",
    "read_warmup_file",
    "saved_model_op_types",
    "write_batching_parameters",
    "write_model_config",
]

# Loaded on first use, so `python -m export` can quiet TensorFlow's C++ logging before it loads.
_HOMES = {
    "ConversionError": "export.errors",
    "ExportError": "export.errors",
    "ExportedModel": "export.saved_model",
    "batching_parameters": "export.server_config",
    "build_servable_model": "export.saved_model",
    "check_core_ops": "export.opcheck",
    "existing_versions": "export.versions",
    "export_onnx": "export.to_onnx",
    "export_saved_model": "export.saved_model",
    "export_tflite": "export.to_tflite",
    "exported_model_names": "export.server_config",
    "model_server_config": "export.server_config",
    "next_version": "export.versions",
    "read_warmup_file": "export.warmup",
    "saved_model_op_types": "export.opcheck",
    "write_batching_parameters": "export.server_config",
    "write_model_config": "export.server_config",
}
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
