"""Exporting to ONNX: the LRN operator's translation, export_onnx, and a plain torch.onnx.export."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

import cnnzoo
from cnnzoo.onnx import OnnxDependencyError
from cnnzoo.ops import local_response_norm
from conftest import skip_unless_torch_exports_custom_ops_to_onnx, smallest_of_each_family

SIZES = (1, 2, 3, 4, 5, 6, 9, 10)  # odd and even windows, and windows wider than the 7 channels
SCALES = ("pytorch", "paper")


@pytest.fixture
def ort():
    """onnxruntime, with onnx and onnxscript for the export; the tests that need them skip without them."""
    skip_unless_torch_exports_custom_ops_to_onnx()
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    return pytest.importorskip("onnxruntime")


def _run(ort, program: torch.onnx.ONNXProgram, *inputs: torch.Tensor) -> list[torch.Tensor]:
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    return [torch.from_numpy(y) for y in session.run(None, feed)]


def _op_types(program: torch.onnx.ONNXProgram) -> list[str]:
    return [node.op_type for node in program.model_proto.graph.node]


class EveryWindow(nn.Module):
    """cnnzoo's LRN at every size and scale of the test, one output each."""

    def __init__(self, sizes: tuple[int, ...], alpha: float = 0.01, beta: float = 0.75, k: float = 2.0) -> None:
        super().__init__()
        self.sizes, self.alpha, self.beta, self.k = sizes, alpha, beta, k

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(local_response_norm(x, size, self.alpha, self.beta, self.k, scale=scale)
                     for size in self.sizes for scale in SCALES)


def _reference(x: torch.Tensor, sizes: tuple[int, ...], alpha=0.01, beta=0.75, k=2.0) -> list[torch.Tensor]:
    # the paper's equation is PyTorch's with alpha multiplied by the window's size
    return [F.local_response_norm(x, size, alpha * size if scale == "paper" else alpha, beta, k)
            for size in sizes for scale in SCALES]


# -- the LRN translation -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 7, 5, 6), (2, 7, 9), (2, 7, 3, 4, 5)], ids=["4d", "3d", "5d"])
def test_lrn_translation_equals_torch_local_response_norm_for_odd_and_even_windows(ort, shape):
    x = torch.randn(shape) * 3  # squares well above k, so the window's placement shows
    program = cnnzoo.export_onnx(EveryWindow(SIZES).eval(), x)
    for got, expected in zip(_run(ort, program, x), _reference(x, SIZES), strict=True):
        assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_lrn_translation_is_onnx_lrn_where_onnx_centres_the_window_as_pytorch_does(ort):
    # ONNX's LRN puts an even window's extra channel after c, PyTorch before; ONNX Runtime runs it only on
    # 4-D inputs of odd size: those are LRN, the rest pools squares over channels as PyTorch does
    assert _op_types(cnnzoo.export_onnx(EveryWindow((5,)).eval(), torch.randn(1, 7, 3, 3))).count("LRN") == 2
    for size, shape in ((4, (1, 7, 3, 3)), (5, (1, 7, 9))):
        ops = _op_types(cnnzoo.export_onnx(EveryWindow((size,)).eval(), torch.randn(shape)))
        assert "LRN" not in ops and "AveragePool" in ops


def test_lrn_translation_computes_float16_in_float32_as_the_op_does(ort):
    x = (torch.randn(2, 7, 5, 6) * 3).half()
    program = cnnzoo.export_onnx(EveryWindow((4, 5)).eval(), x)
    for got, expected in zip(_run(ort, program, x), EveryWindow((4, 5))(x), strict=True):
        assert got.dtype == torch.float16
        assert_close(got, expected, atol=2e-3, rtol=2e-3)


def test_plain_torch_onnx_export_translates_lrn_without_a_table(ort):
    model = EveryWindow((2, 5)).eval()
    x = torch.randn(2, 7, 5, 6) * 3
    program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    for got, expected in zip(_run(ort, program, x), _reference(x, (2, 5)), strict=True):
        assert_close(got, expected, atol=1e-5, rtol=1e-5)


# -- export_onnx -------------------------------------------------------------------------------------

def test_export_onnx_writes_a_file_onnxruntime_runs_like_eager_at_any_batch(ort, tmp_path):
    model = cnnzoo.create("googlenet_2014", num_classes=5).eval()  # two LRN layers
    path = tmp_path / "googlenet_2014.onnx"
    program = cnnzoo.export_onnx(model, torch.randn(2, 3, 31, 31), path,
                                 dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    assert path.is_file() and not list(tmp_path.glob("*.data"))  # the weights are in the one file
    assert _op_types(program).count("LRN") == 2
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 3, 31, 31)
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            assert_close(torch.from_numpy(got), model(x), atol=1e-4, rtol=1e-4)


def test_export_onnx_refuses_the_torchscript_exporter_and_a_missing_folder(tmp_path):
    model, x = cnnzoo.create("lenet5").eval(), torch.randn(1, 1, 32, 32)
    with pytest.raises(ValueError, match="dynamo"):
        cnnzoo.export_onnx(model, x, dynamo=False)
    with pytest.raises(ValueError, match="does not exist"):
        cnnzoo.export_onnx(model, x, tmp_path / "no" / "model.onnx")
    with pytest.raises(TypeError, match="tensor"):
        cnnzoo.export_onnx(model, [[1.0]])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        cnnzoo.export_onnx("lenet5", x)


@pytest.mark.parametrize("missing", ["onnx", "onnxscript"])
def test_export_onnx_without_the_onnx_packages_says_how_to_install_them(monkeypatch, tmp_path, missing):
    skip_unless_torch_exports_custom_ops_to_onnx()  # an older torch is named first: onnx alone would not help
    monkeypatch.setitem(sys.modules, missing, None)  # what `import` meets when a package is not installed
    path = tmp_path / "lenet5.onnx"
    with pytest.raises(OnnxDependencyError, match=r'pip install "cnnzoo\[onnx\]"') as error:
        cnnzoo.export_onnx(cnnzoo.create("lenet5").eval(), torch.randn(1, 1, 32, 32), path)
    assert isinstance(error.value, (cnnzoo.CnnzooError, ImportError)) and missing in str(error.value)
    assert not path.exists()


@pytest.mark.slow  # a process of its own
def test_import_cnnzoo_imports_neither_onnx_nor_onnxscript():
    code = textwrap.dedent("""
        import sys
        import cnnzoo
        print(sorted(m for m in ("onnx", "onnxscript", "onnxruntime", "onnx_ir") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow  # a process of its own, whose first export loads torch's exporter after cnnzoo
def test_plain_torch_onnx_export_in_a_fresh_process_translates_alexnet_2012(ort):
    code = textwrap.dedent("""
        import torch, cnnzoo
        model = cnnzoo.create("alexnet_2012", num_classes=3).eval()
        program = torch.onnx.export(model, (torch.randn(1, 3, 63, 63),), dynamo=True, verbose=False)
        print(sum(node.op_type == "LRN" for node in program.model_proto.graph.node))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "2"


@pytest.mark.slow  # every family: about a minute on two cores
@pytest.mark.parametrize("name", smallest_of_each_family())
def test_every_family_exports_and_runs_in_onnxruntime_like_eager(ort, name):
    model = cnnzoo.create(name).eval()
    channels, *size = model.default_cfg.get("min_input_size") or model.default_cfg["input_size"]
    program = cnnzoo.export_onnx(model, torch.randn(2, channels, *size),
                                 dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    for batch in (2, 1):
        x = torch.randn(batch, channels, *size)
        (got,) = _run(ort, program, x)
        with torch.no_grad():
            expected = model(x)
        assert_close(got, expected, atol=1e-4, rtol=1e-4)
        # several families' logits are tiny at random initialisation: relative to their size too
        assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()
