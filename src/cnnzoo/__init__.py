"""cnnzoo: faithful classic CNN architectures for transfer learning.

>>> import cnnzoo
>>> model = cnnzoo.create("alexnet", num_classes=5)
"""

from cnnzoo import models  # noqa: F401  (registers every architecture)
from cnnzoo import compat  # noqa: F401  (cnnzoo.compat.build_res50 without a second import)
from cnnzoo.errors import (
    CnnzooError,
    CnnzooTypeError,
    CnnzooValueError,
    InputShapeError,
    RegistryError,
    UnknownModelError,
    WeightsError,
)
from cnnzoo.pretrained import LoadReport, load_pretrained, push_to_hub, save_pretrained
from cnnzoo.weights import PretrainedTag
from cnnzoo.factory import create
from cnnzoo.registry import ModelInfo, is_model, list_models, model_info, register_model
from cnnzoo.memory import MemoryEstimate, estimate_memory, max_batch_size
from cnnzoo.onnx import export_onnx
from cnnzoo.optimize import optimize
from cnnzoo.summary import ModelSummary, summary
from cnnzoo.transfer import (
    FeatureExtractor,
    auto_hidden_width,
    extract_features,
    freeze,
    freeze_backbone,
    param_groups,
    replace_head,
    unfreeze,
)
from cnnzoo.transforms import transforms_for

__version__ = "0.1.0.dev0"

__all__ = [
    "CnnzooError",
    "CnnzooTypeError",
    "CnnzooValueError",
    "FeatureExtractor",
    "InputShapeError",
    "LoadReport",
    "MemoryEstimate",
    "ModelInfo",
    "ModelSummary",
    "PretrainedTag",
    "RegistryError",
    "UnknownModelError",
    "WeightsError",
    "auto_hidden_width",
    "create",
    "estimate_memory",
    "export_onnx",
    "extract_features",
    "freeze",
    "freeze_backbone",
    "is_model",
    "list_models",
    "load_pretrained",
    "max_batch_size",
    "model_info",
    "optimize",
    "param_groups",
    "push_to_hub",
    "register_model",
    "replace_head",
    "save_pretrained",
    "summary",
    "transforms_for",
    "unfreeze",
    "__version__",
]
