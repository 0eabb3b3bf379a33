"""TF Serving configuration files: ``--model_config_file`` and ``--batching_parameters_file``.

Both are text protos. ModelServerConfig ships with tensorflow-serving-api; BatchingParameters
(tensorflow_serving/servables/tensorflow/session_bundle_config.proto) does not, so its
message is declared here, field for field, in a private descriptor pool.
"""
import os

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from export.errors import ExportError
from export.versions import existing_versions

__all__ = [
    "batching_parameters",
    "batching_parameters_message_class",
    "exported_model_names",
    "model_server_config",
    "write_batching_parameters",
    "write_model_config",
]

CONTAINER_MODELS_ROOT = "/models"  # where the tensorflow/serving image looks for models


def exported_model_names(base_path):
    """Names of the model directories under base_path that hold at least one version."""
    if not os.path.isdir(base_path):
        return []
    return sorted(name for name in os.listdir(base_path)
                  if not name.startswith(".") and existing_versions(os.path.join(base_path, name)))


def _version_policy(config, versions):
    if versions is None:
        return  # server default: the latest version only
    if versions == "all":
        config.model_version_policy.all.SetInParent()
        return
    versions = list(versions)
    if not versions or not all(isinstance(v, int) and v >= 0 for v in versions):
        raise ExportError(f"versions must be None, 'all' or a list of integer versions, got {versions!r}")
    config.model_version_policy.specific.versions.extend(versions)


def model_server_config(models, models_root=CONTAINER_MODELS_ROOT, versions=None):
    """A ModelServerConfig serving several models.

    Args:
        models: model names (each served from models_root/<name>), or {name: base_path}.
        models_root: directory the server sees the models under (the container path for
            the tensorflow/serving image).
        versions: None (latest), 'all', or a list of versions every model serves.
    """
    if not isinstance(models, dict):
        models = {name: f"{models_root.rstrip('/')}/{name}" for name in models}
    if not models:
        raise ExportError("a model config needs at least one model")
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in models.items():
        entry = config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
        _version_policy(entry, versions)
    return config


def write_model_config(path, models, models_root=CONTAINER_MODELS_ROOT, versions=None):
    """Write a models.config text proto for tensorflow_model_server --model_config_file."""
    config = model_server_config(models, models_root, versions)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    return path


def _batching_file_descriptor():
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    proto = descriptor_pb2.FileDescriptorProto(
        name="session_bundle_config_batching.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=[wrappers.name],
    )
    message = proto.message_type.add(name="BatchingParameters")
    label, wrapper = descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
    for number, (name, type_name) in enumerate(
        [
            ("max_batch_size", ".google.protobuf.Int64Value"),
            ("batch_timeout_micros", ".google.protobuf.Int64Value"),
            ("max_enqueued_batches", ".google.protobuf.Int64Value"),
            ("num_batch_threads", ".google.protobuf.Int64Value"),
            ("thread_pool_name", ".google.protobuf.StringValue"),
        ],
        start=1,
    ):
        message.field.add(name=name, number=number, type=wrapper, type_name=type_name, label=label.LABEL_OPTIONAL)
    message.field.add(name="allowed_batch_sizes", number=6, type=label.TYPE_INT64, label=label.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=label.TYPE_BOOL, label=label.LABEL_OPTIONAL)
    return wrappers, proto


def batching_parameters_message_class():
    """The BatchingParameters message class (tensorflow.serving.BatchingParameters)."""
    pool = descriptor_pool.DescriptorPool()
    for file_proto in _batching_file_descriptor():
        pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def batching_parameters(
    max_batch_size=32,
    batch_timeout_micros=5000,
    max_enqueued_batches=100,
    num_batch_threads=None,
    allowed_batch_sizes=(),
    pad_variable_length_inputs=False,
):
    """A BatchingParameters message; num_batch_threads defaults to the CPU count.

    pad_variable_length_inputs stays False by default: zero-padding a shorter clip to batch
    it with longer ones adds silence, which changes a variable-length model's pooled scores.
    """
    allowed = list(allowed_batch_sizes)
    if allowed and (allowed != sorted(set(allowed)) or allowed[-1] != max_batch_size):
        raise ExportError("allowed_batch_sizes must increase and end with max_batch_size")
    message = batching_parameters_message_class()(
        allowed_batch_sizes=allowed, pad_variable_length_inputs=pad_variable_length_inputs
    )
    message.max_batch_size.value = max_batch_size
    message.batch_timeout_micros.value = batch_timeout_micros
    message.max_enqueued_batches.value = max_enqueued_batches
    message.num_batch_threads.value = num_batch_threads or os.cpu_count() or 1
    return message


def write_batching_parameters(path, **parameters):
    """Write a text proto for tensorflow_model_server --batching_parameters_file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(batching_parameters(**parameters)))
    return path
