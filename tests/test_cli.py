"""The ``cnnzoo`` command."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnzoo
from cnnzoo.cli import main
from conftest import skip_unless_torch_exports_custom_ops_to_onnx


def test_list_prints_every_model_or_the_matching_ones(capsys):
    assert main(["list"]) == 0
    everything = capsys.readouterr().out.split()
    assert "resnet50" in everything and "lenet5" in everything
    assert main(["list", "densenet1*"]) == 0
    assert capsys.readouterr().out.split() == ["densenet121", "densenet161", "densenet169"]


def test_list_without_match_fails_with_a_hint(capsys):
    assert main(["list", "nothing_like_this*"]) == 1
    assert "cnnzoo list" in capsys.readouterr().err


def test_list_verbose_shows_parameters(capsys):
    assert main(["list", "-v", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "1x32x32" in out


def test_info_prints_paper_input_parameters_flops_and_layer_table(capsys):
    assert main(["info", "alexnet", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out
    assert "One weird trick" in out
    assert "3x224x224 (smallest 63x63)" in out
    assert "Parameters:     57,024,325" in out  # 61,100,840 - 4096 * 995 - 995
    assert "GFLOPs" in out
    assert "classifier.6" in out and "[1, 5]" in out
    assert "alexnet.tv_in1k (torchvision, default): ImageNet top-1 56.522%" in out


def test_info_honours_input_size_and_channels(capsys):
    assert main(["info", "resnet18", "--input-size", "1", "64", "96"]) == 0
    out = capsys.readouterr().out
    assert "[1, 64, 32, 48]" in out  # conv1 output at 64x96
    assert "1x64x96" in out


def test_info_refuses_an_input_too_small_with_the_smallest_size(capsys):
    assert main(["info", "alexnet", "--input-size", "3", "32", "32"]) == 2
    assert "at least 63x63" in capsys.readouterr().err


def test_info_unknown_model_suggests_close_names(capsys):
    assert main(["info", "resnet05"]) == 2
    assert "resnet50" in capsys.readouterr().err


def _cnnzoo_command() -> list[str]:
    script = Path(sysconfig.get_path("scripts")) / "cnnzoo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cnnzoo.cli"]


def test_console_script_is_installed_and_runs():
    result = subprocess.run([*_cnnzoo_command(), "list", "lenet*"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lenet5"]


# -- every failure is one line on stderr and exit status 2, never a traceback ---------------------------

def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def _assert_one_line_error(capsys, argv: list[str], *hints: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and "unexpected" not in err
    for hint in hints:
        assert hint in lines[0]
    return lines[0]


def test_memory_refuses_a_budget_beyond_any_machine_in_one_line(capsys):
    line = _assert_one_line_error(capsys, ["memory", "lenet5", "--budget", "1e30"], "--budget", "at most 1 PiB")
    assert line.startswith("cnnzoo memory: error: ") and "'1e30'" in line


@pytest.mark.parametrize("budget", ["nan", "inf", "1e400", "-1GiB", "0", ""])
def test_memory_refuses_a_budget_that_is_no_size(capsys, budget):
    _assert_one_line_error(capsys, ["memory", "lenet5", "--budget", budget], "--budget")


def test_info_refuses_a_negative_input_side_in_one_line(capsys):
    _assert_one_line_error(capsys, ["info", "lenet5", "--input-size", "1", "-32", "32"],
                           "--input-size must be C H W", "height must be >= 1, got '-32'")


@pytest.mark.parametrize(("size", "hint"), [
    (["0", "32", "32"], "channels must be >= 1"),
    (["1", "32", "x"], "width must be a whole number"),
    (["1", "32", "1e3"], "width must be a whole number"),
    (["2048", "32", "32"], "channels must be at most 1,024"),
    (["1", "99999999999999999999", "32"], "height must be at most 16,384"),
])
def test_info_says_which_side_of_the_input_size_is_wrong(capsys, size, hint):
    _assert_one_line_error(capsys, ["info", "lenet5", "--input-size", *size], hint)


def test_info_refuses_a_class_count_beyond_a_million_in_one_line(capsys):
    _assert_one_line_error(capsys, ["info", "lenet5", "--num-classes", "99999999999999999999"],
                           "--num-classes must be at most 1,000,000")


@pytest.mark.parametrize(("argv", "hint"), [
    (["memory", "lenet5", "--batch-size", "-3"], "--batch-size must be >= 1"),
    (["memory", "lenet5", "--batch-size", "2.5"], "--batch-size must be a whole number"),
    (["memory", "lenet5", "--batch-size", "1" + "0" * 5000], "--batch-size must be at most 1,048,576"),
    (["info", "lenet5", "--num-classes", "nan"], "--num-classes must be a whole number"),
    (["memory", "lenet5", "--dtype", "float64"], "invalid choice: 'float64'"),
    (["info", "a" * 5000], "Unknown model"),  # a bare word is a name, never looked up as a folder
    (["info", "./" + "a" * 5000], "nor a directory that can be opened"),
    (["info", "~no_such_user_here"], "nor a directory that can be opened"),
])
def test_bad_values_are_refused_as_they_are_read(capsys, argv, hint):
    _assert_one_line_error(capsys, argv, hint)


def test_usage_errors_are_one_line_naming_the_help(capsys):
    line = _assert_one_line_error(capsys, ["info"], "the following arguments are required: name")
    assert line.startswith("cnnzoo info: error: ") and "`cnnzoo info --help`" in line
    _assert_one_line_error(capsys, [], "required: COMMAND", "`cnnzoo --help`")
    _assert_one_line_error(capsys, ["info", "lenet5", "--nonsense"], "unrecognized arguments: --nonsense")
    _assert_one_line_error(capsys, ["memory", "lenet5", "--input-size", "1", "32"], "expected 3 arguments")


def test_usage_errors_escape_control_characters_to_stay_on_one_line(capsys):
    line = _assert_one_line_error(capsys, ["info", "lenet5", "x\ny\x1b[2Jz"], "unrecognized arguments")
    assert "\x1b" not in line and "\\x1b" in line


@pytest.mark.parametrize(("argv", "shown"), [
    (["--help"], "Exit status: 0 for an answer"),
    (["info", "--help"], "usage: cnnzoo info [-h]"),
    (["memory", "-h"], "usage: cnnzoo memory [-h]"),
    (["--version"], f"cnnzoo {cnnzoo.__version__}"),
])
def test_help_and_version_exit_0(capsys, argv, shown):
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert shown in " ".join(out.split()) and not err


def test_info_unknown_tag_lists_the_published_ones(capsys):
    _assert_one_line_error(capsys, ["info", "resnet18.no_such_tag"], "no pretrained tag 'no_such_tag'", "tv_in1k")


def test_info_unknown_model_with_a_tag_suggests_close_names(capsys):
    _assert_one_line_error(capsys, ["info", "resnt18.tv_in1k"], "Unknown model 'resnt18'", "resnet18")


def test_info_refuses_a_hub_repository_instead_of_downloading_it(capsys):
    _assert_one_line_error(capsys, ["info", "hf-hub:timm/resnet18.tv_in1k"],
                           "would have to be downloaded", "huggingface-cli download timm/resnet18.tv_in1k")


def test_unexpected_errors_are_one_line_naming_the_debug_switch(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr("cnnzoo.model_info", broken)
    monkeypatch.delenv("CNNZOO_DEBUG", raising=False)
    assert main(["list", "-v", "lenet5"]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert "RuntimeError: first line second line" in lines[0] and "CNNZOO_DEBUG=1" in lines[0]
    monkeypatch.setenv("CNNZOO_DEBUG", "1")
    with pytest.raises(RuntimeError, match="first line"):
        main(["list", "-v", "lenet5"])


def test_interrupt_exits_130_quietly(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("cnnzoo.list_models", interrupted)
    assert main(["list"]) == 130
    assert capsys.readouterr().err == ""


def test_a_closed_stdout_ends_quietly_with_the_status_of_sigpipe(capsys, monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["list"]) == 128 + signal.SIGPIPE
    assert capsys.readouterr().err == ""


# -- NAME.TAG and saved directories: every name create() takes without a download ----------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("resnet18.tv_in1k", [
        "Architecture:   resnet18",
        "Weights:        resnet18.tv_in1k (torchvision, the default of resnet18)",
        "top-1 69.758%, top-5 89.078%",
        "3x224x224: resize 256, centre crop 224 (crop_pct 0.875), bilinear",
        "License:        bsd-3-clause",
        "Source:         hf-hub:timm/resnet18.tv_in1k",
        "Parameters:     11,689,512",
        "per image at 3x224x224",
    ]),
    ("seresnet50.ra2_in1k", [
        "Architecture:   seresnet50",
        "(timm, the default of seresnet50)",
        "top-1 81.284%, top-5 95.652% at 288px",
        "3x288x288: resize 303, centre crop 288 (crop_pct 0.950), bicubic",
        "License:        apache-2.0",
        "per image at 3x288x288",  # the weights' input, as create(NAME.TAG).default_cfg says
    ]),
])
def test_info_describes_the_architecture_and_the_weights_a_tag_names(capsys, name, expected):
    assert main(["info", name]) == 0  # offline, with empty caches (conftest): a download would fail it
    out, err = capsys.readouterr()
    assert out.startswith(f"{name}  (") and not err
    for text in expected:
        assert text in out


def test_info_with_a_tag_honours_num_classes(capsys):
    assert main(["info", "resnet18.tv_in1k", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out
    assert "Classes:        5" in out and "Parameters:     11,179,077" in out  # 11,689,512 - 512 * 995 - 995


def test_memory_takes_a_tagged_name_at_its_weights_input(capsys):
    assert main(["memory", "resnet18.tv_in1k", "--batch-size", "1", "--inference"]) == 0
    assert "resnet18.tv_in1k: batch 1 of 3x224x224, float32, inference" in capsys.readouterr().out


def test_info_and_memory_describe_a_saved_directory_without_reading_its_weights(capsys, tmp_path):
    directory = cnnzoo.save_pretrained(cnnzoo.create("lenet5", num_classes=3), tmp_path / "digits.v1")
    (directory / "model.safetensors").write_bytes(b"not read")
    assert main(["info", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "Architecture:   lenet5" in out and "Classes:        3" in out and "Parameters:     61,111" in out
    assert main(["memory", str(directory), "--batch-size", "2"]) == 0
    assert "batch 2 of 1x32x32" in capsys.readouterr().out


# -- the property: nonsense in, status 0/1/2 out, one line on stderr, no traceback ----------------------

_SMALL_MODELS = ("lenet5", "cifar_resnet20", "alexnet", "nin")
_HOSTILE = ("nan", "inf", "-inf", "1e30", "1e400", "-1e30", "", " ", "0", "-1", "-0", "+3", "0x10", "1_000", "2GiB",
            "64MiB", "1 MiB", "1024TiB", "1025TiB", "0.5", "adam", "none", "float16", "alexnet.tv_in1k",
            "lenet5.tv_in1k", "nin.", ".", "~", "hf-hub:x/y", "--", "-x")
# no wildcards: `list -v '*'` would count the FLOPs of the whole zoo; no real name but the small ones
_junk = st.text(max_size=12).filter(lambda t: not any(c in t for c in "*?[") and not cnnzoo.is_model(t))
_value = st.one_of(st.sampled_from(_HOSTILE), st.integers(1, 64).map(str), st.integers(-(10**30), 10**30).map(str),
                   st.floats().map(repr), _junk)
_option = st.one_of(  # mostly an option with as many values as it takes, sometimes not
    st.tuples(st.sampled_from(("--num-classes", "--batch-size", "--budget", "--optimizer", "--dtype")), _value),
    st.tuples(st.just("--input-size"), _value, _value, _value),
    st.tuples(st.sampled_from(("-v", "--verbose", "--inference", "--help", "-h", "--num", "--nonsense"))),
    st.lists(st.one_of(_value, st.sampled_from(_SMALL_MODELS)), max_size=2),
).map(list)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.one_of(*[st.just(c) for c in ("list", "info", "memory")], _junk),
       name=st.one_of(st.sampled_from(_SMALL_MODELS), _junk),
       options=st.lists(_option, max_size=4))
def test_nonsense_arguments_never_give_a_traceback(capsys, command, name, options):
    status = main([command, name, *(token for option in options for token in option)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status in (0, 1, 2), (status, err)
    lines = _error_lines(err)
    assert len(lines) <= 1, err
    if status == 2:
        assert len(lines) == 1 and "unexpected" not in err, err  # refused at the boundary, not by accident


def test_console_script_reports_bad_input_in_one_line_without_a_traceback():
    result = subprocess.run([*_cnnzoo_command(), "info", "lenet5", "--input-size", "1", "-32", "32"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert _error_lines(result.stderr) == [
        "cnnzoo info: error: --input-size must be C H W, whole numbers; its height must be >= 1, got '-32'. "
        "See `cnnzoo info --help`."
    ]


@pytest.mark.slow
def test_console_script_stops_quietly_when_its_reader_leaves():
    with subprocess.Popen([*_cnnzoo_command(), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.close()  # before the command has imported torch, let alone printed
        err = process.stderr.read()
        assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert err == b""


# -- export: the network with its weights, as ONNX or a torch.export program ----------------------------

def test_export_writes_onnx_that_runs_like_the_saved_model_at_any_batch_size(capsys, tmp_path):
    skip_unless_torch_exports_custom_ops_to_onnx()
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    directory = cnnzoo.save_pretrained(cnnzoo.create("lenet5", num_classes=3), tmp_path / "digits")
    output = tmp_path / "digits.onnx"
    assert main(["export", str(directory), "--output", str(output)]) == 0
    out, err = capsys.readouterr()
    assert f"Wrote {output}" in out and "its saved weights" in out and "input Bx1x32x32" in out and not err
    model = cnnzoo.create(directory).eval()
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 1, 32, 32)
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), model(x), atol=1e-4, rtol=1e-4)


def test_export_writes_a_torch_export_program_with_the_lrn_op_at_the_size_asked(capsys, tmp_path):
    output = tmp_path / "googlenet_2014.model"
    argv = ["export", "googlenet_2014", "--output", str(output), "--format", "pt2", "--num-classes", "4",
            "--in-chans", "1", "--input-size", "40"]
    assert main(argv) == 0
    assert "freshly initialised weights, input Bx1x40x40" in capsys.readouterr().out
    program = torch.export.load(output)
    assert any(node.target == torch.ops.cnnzoo.lrn.default for node in program.graph.nodes)
    assert program.module()(torch.randn(3, 1, 40, 40)).shape == (3, 4)


@pytest.mark.parametrize(("options", "hint"), [
    ([], "the following arguments are required: --output"),
    (["--output", "model.bin"], "--format onnx or --format pt2"),
    (["--output", "model.onnx", "--format", "tflite"], "invalid choice: 'tflite'"),
    (["--output", "no/such/folder/model.onnx"], "in a folder that does not exist"),
    (["--output", ".", "--format", "onnx"], "is a directory"),
    (["--output", "model.pt2", "--input-size", "8"], "at least 32x32"),
    (["--output", "model.pt2", "--input-size", "0"], "--input-size must be >= 1"),
    (["--output", "model.pt2", "--input-size", "32", "32"], "unrecognized arguments: 32"),
    (["--output", "model.pt2", "--input-size", "1e400"], "--input-size must be a whole number"),
    (["--output", "model.pt2", "--in-chans", "2048"], "--in-chans must be at most 1,024"),
    (["--output", "model.pt2", "--num-classes", "-1"], "--num-classes must be >= 1"),
])
def test_export_refuses_nonsense_in_one_line_and_writes_nothing(capsys, monkeypatch, tmp_path, options, hint):
    monkeypatch.chdir(tmp_path)
    _assert_one_line_error(capsys, ["export", "lenet5", *options], hint)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "hint"), [
    ("lenet_5", "Unknown model 'lenet_5'"),
    ("resnet18.tv_in1k", "is not in the Hugging Face cache"),  # offline (conftest), so not downloaded
    ("lenet5.tv_in1k", "No pretrained weights are published for 'lenet5'"),
])
def test_export_refuses_a_name_it_cannot_build_in_one_line(capsys, tmp_path, name, hint):
    _assert_one_line_error(capsys, ["export", name, "--output", str(tmp_path / "model.pt2")], hint)
    assert list(tmp_path.iterdir()) == []


def test_export_to_onnx_without_the_onnx_packages_says_how_to_install_them(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what `import` meets when it is not installed
    _assert_one_line_error(capsys, ["export", "lenet5", "--output", str(tmp_path / "model.onnx")],
                           'pip install "cnnzoo[onnx]"')
    assert list(tmp_path.iterdir()) == []


# -- list --pretrained: the published weights, their accuracy and license ---------------------------------

def _weights_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["weights", "publisher", "top-1", "top-5", "crop", "license"]
    return [line.split() for line in lines[1:]]


def test_list_pretrained_shows_each_tags_publisher_accuracy_and_license(capsys):
    assert main(["list", "--pretrained", "resnet50*"]) == 0
    rows = {row[0]: row for row in _weights_rows(capsys.readouterr().out)}
    assert rows["resnet50.tv_in1k"][1:6] == ["torchvision", "76.13", "92.862", "224", "bsd-3-clause"]
    assert rows["resnet50.a1_in1k"][1:6] == ["timm", "81.214", "95.102", "288", "apache-2.0"]  # timm's results
    assert rows["resnet50.fb_swsl_ig1b_ft_in1k"][5:] == ["cc-by-nc-4.0", "(non-commercial", "use", "only)"]
    assert list(rows)[:2] == ["resnet50.tv_in1k", "resnet50.tv2_in1k"]


def test_list_pretrained_sorts_by_reported_accuracy_best_first_unknown_last(capsys):
    assert main(["list", "--pretrained", "--sort", "top1"]) == 0
    rows = _weights_rows(capsys.readouterr().out)
    known = [float(row[2]) for row in rows if row[2] != "-"]
    assert known == sorted(known, reverse=True) and len(known) >= 30
    assert all(row[2] == "-" for row in rows[len(known):])
    assert rows[0][0] == "resnext101_32x8d.fb_swsl_ig1b_ft_in1k"  # 84.302 in timm's results
    assert rows[-1][0] == "resnet34.ra4_e3600_r224_in1k" and rows[-1][2] == "-"  # timm lists no result: none invented
    assert main(["list", "--pretrained", "--sort", "top5", "vgg*"]) == 0
    assert _weights_rows(capsys.readouterr().out)[0][0] == "vgg19_bn.tv_in1k"


def test_list_pretrained_filters_by_license_and_verbose_adds_the_source(capsys):
    assert main(["list", "--pretrained", "-v", "--license", "cc-by-nc-*", "resnext*"]) == 0
    rows = _weights_rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == ["resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k", "resnext50_32x4d.fb_swsl_ig1b_ft_in1k",
                                        "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k", "resnext101_32x8d.fb_swsl_ig1b_ft_in1k",
                                        "resnext101_32x8d.fb_wsl_ig1b_ft_in1k"]
    assert rows[-1][-1] == "hf-hub:timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k"


def test_list_pretrained_without_match_fails_with_a_hint(capsys):
    assert main(["list", "--pretrained", "lenet*"]) == 1
    assert "cnnzoo list --pretrained" in capsys.readouterr().err
    assert main(["list", "--pretrained", "--license", "apache-2.0", "vgg*"]) == 1
    assert "'apache-2.0'" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "hints"), [
    (["list", "--pretrained", "--sort", "accuracy"], ("--sort", "invalid choice")),
    (["list", "--pretrained", "--sort"], ("--sort", "expected one argument")),
    (["list", "--pretrained", "--license", "mit"], ("--license", "matches no license", "apache-2.0")),
    (["list", "--pretrained", "--license", "\n"], ("--license", "matches no license")),
    (["list", "--sort", "top1"], ("--sort top1 applies to published weights", "--pretrained")),
    (["list", "--license", "apache-2.0"], ("--license applies to published weights", "--pretrained")),
    (["list", "--pretrained=yes"], ("--pretrained",)),
])
def test_list_pretrained_refuses_nonsense_in_one_line(capsys, argv, hints):
    _assert_one_line_error(capsys, argv, *hints)


def test_info_of_a_new_tag_shows_its_license_input_and_who_measured_its_accuracy(capsys):
    assert main(["info", "resnext101_32x8d.fb_wsl_ig1b_ft_in1k"]) == 0  # offline, nothing downloaded
    out = capsys.readouterr().out
    assert "Weights:        resnext101_32x8d.fb_wsl_ig1b_ft_in1k (facebook)" in out
    assert "License:        cc-by-nc-4.0 (non-commercial use only)" in out
    assert "Accuracy:       ImageNet-1k top-1 82.698%, top-5 96.632% at 224px, as timm measured it" in out
    assert main(["info", "resnet34.ra4_e3600_r224_in1k"]) == 0
    out = capsys.readouterr().out
    assert "Accuracy:       none published" in out and "None%" not in out
    assert main(["info", "resnet50.tv_in1k"]) == 0
    assert "top-1 76.13%, top-5 92.862% at 224px, as torchvision reports" in capsys.readouterr().out
    assert main(["info", "resnet50.a1_in1k"]) == 0
    out = capsys.readouterr().out
    assert "3x288x288: resize 288, centre crop 288 (crop_pct 1.000), bicubic" in out and "trained at 224px" in out
    assert "per image at 3x288x288" in out


def test_info_of_a_bare_name_lists_every_tags_license(capsys):
    assert main(["info", "seresnet50"]) == 0
    out = capsys.readouterr().out
    assert "seresnet50.ra2_in1k (timm, default): ImageNet top-1 81.284%" in out
    assert "seresnet50.a1_in1k (timm): ImageNet top-1 81.102%, top-5 95.12% at 288px; apache-2.0" in out
    assert main(["info", "resnet34"]) == 0
    out = capsys.readouterr().out
    assert "resnet34.ra4_e3600_r224_in1k (timm): evaluated at 288px, no accuracy published; apache-2.0" in out
    assert "None%" not in out
