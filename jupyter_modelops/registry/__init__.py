"""The model registry: immutable, versioned models with their metadata, on one machine.

SQLite (WAL) keeps the metadata and a content-addressed blob store keeps the
files, both under ``MODELOPS_HOME/registry``. See :mod:`.api` for the
functions and :mod:`.flavors` for how models are written.
"""

from ._refs import NAME_RULE, Ref, parse_ref
from .api import (
    MODEL_DIR_FILE,
    add_record,
    alias,
    alias_history,
    artifact_path,
    attach_artifact,
    delete,
    diff,
    gc,
    get,
    load,
    load_model_dir,
    materialize,
    models,
    params_from_text,
    read_model_file,
    records,
    snapshot,
    snapshot_file,
    trust,
    versions,
)
from .bundle import EnvironmentMismatchWarning, bundle_command, export_bundle, import_bundle
from .checkpoint import checkpoint, restore_checkpoint
from .flavors import Flavor, register
from .results import BundleInfo, Checkpoint, GcReport, ModelList, ModelVersion, Trust, VersionDiff, VersionList

__all__ = [
    "MODEL_DIR_FILE",
    "NAME_RULE",
    "Ref",
    "parse_ref",
    "snapshot",
    "get",
    "load",
    "models",
    "versions",
    "alias",
    "alias_history",
    "diff",
    "delete",
    "gc",
    "attach_artifact",
    "artifact_path",
    "add_record",
    "records",
    "materialize",
    "checkpoint",
    "restore_checkpoint",
    "export_bundle",
    "import_bundle",
    "EnvironmentMismatchWarning",
    "bundle_command",
    "load_model_dir",
    "snapshot_file",
    "read_model_file",
    "params_from_text",
    "Flavor",
    "register",
    "ModelVersion",
    "ModelList",
    "VersionList",
    "VersionDiff",
    "GcReport",
    "BundleInfo",
    "Checkpoint",
    "trust",
    "Trust",
]
