"""torch.hub entry points: every registered cnnzoo network, by its registry name.

>>> model = torch.hub.load("cnnzoo/cnnzoo", "resnet50", pretrained=True, num_classes=5)
>>> backbone = torch.hub.load("path/to/checkout", "densenet121", source="local", features_only=True)
>>> torch.hub.list("cnnzoo/cnnzoo")             # the names cnnzoo.list_models() gives
>>> print(torch.hub.help("cnnzoo/cnnzoo", "resnet50"))

torch.hub imports this file from the folder it downloaded (or, with ``source="local"``, the folder it is
given) without installing the package. Each entry point is :func:`cnnzoo.create` with the model's name
filled in, generated from the registry, so a newly registered model is an entry point without an edit here.
Only those entry points are public callables: torch.hub.list takes every callable not starting with ``_``.
"""

import inspect as _inspect
import os as _os
import sys as _sys
import warnings as _warnings

dependencies = ["torch", "torchvision", "safetensors", "huggingface_hub"]

_SRC = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "src")


def _import_repo_cnnzoo():
    # The checkout's src/ goes to the front of sys.path and stays there: a user who hub-loads a newer checkout
    # over an older pip-installed cnnzoo expects the checkout's code, and whatever imports cnnzoo later
    # (unpickling a model, DataLoader workers started with spawn, which inherit sys.path) must find that
    # same copy. A cnnzoo already imported from elsewhere is kept, with a warning: two copies in one process
    # would mean two registries and two ZooModel classes, and models that fail the other copy's checks.
    package = _os.path.join(_SRC, "cnnzoo")
    if _os.path.isfile(_os.path.join(package, "__init__.py")):
        _sys.path[:] = [_SRC] + [entry for entry in _sys.path if entry != _SRC]
    import cnnzoo

    loaded = _os.path.dirname(_os.path.realpath(getattr(cnnzoo, "__file__", None) or ""))
    if _os.path.isdir(package) and loaded != _os.path.realpath(package):
        _warnings.warn(
            f"torch.hub is loading cnnzoo from {_SRC}, but cnnzoo {getattr(cnnzoo, '__version__', '?')} was "
            f"already imported from {loaded}; the models come from that copy. To use this checkout's code, "
            f"call torch.hub.load before importing cnnzoo, in a fresh Python process.",
            stacklevel=3,
        )
    return cnnzoo


_cnnzoo = _import_repo_cnnzoo()

_ARGUMENTS = """\
Arguments are those of cnnzoo.create: pretrained (True for the default weights, a tag, a .safetensors or
.pth path, or "hf-hub:ORG/REPO"; also the one positional argument), num_classes, in_chans, features_only,
out_indices, and the architecture's own keyword options. A wrong one raises cnnzoo's error
(cnnzoo.CnnzooTypeError for an option the architecture does not take)."""


def _docstring(name):
    """The builder's docstring, the paper, the published weights and the arguments, for torch.hub.help."""
    entry = _cnnzoo.registry.get_entry(name)
    lines = [_inspect.cleandoc(entry.builder.__doc__ or name), ""]
    if entry.paper:
        lines += [f"Paper: {entry.paper}", ""]
    tags = _cnnzoo.list_models(name, pretrained=True)
    if tags:
        lines += [f"Published weights: {', '.join(tags)} (pretrained=True loads {tags[0]}).", ""]
    else:
        lines += ["No published weights: pretrained=PATH loads your own file.", ""]
    lines += [_ARGUMENTS, "", "Example:", f'    model = torch.hub.load("cnnzoo/cnnzoo", "{name}", num_classes=5)']
    return "\n".join(lines) + "\n"


def _entry_point(name):
    def entry_point(pretrained=False, *, num_classes=None, in_chans=None, features_only=False, out_indices=None,
                    **kwargs):
        return _cnnzoo.create(name, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans,
                              features_only=features_only, out_indices=out_indices, **kwargs)

    entry_point.__name__ = entry_point.__qualname__ = name
    entry_point.__module__ = __name__
    entry_point.__doc__ = _docstring(name)
    return entry_point


for _name in _cnnzoo.list_models():
    globals()[_name] = _entry_point(_name)
