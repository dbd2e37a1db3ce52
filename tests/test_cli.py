"""The ``cnnzoo`` command."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cnnzoo.cli import main


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


def test_console_script_is_installed_and_runs():
    script = Path(sysconfig.get_path("scripts")) / "cnnzoo"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cnnzoo.cli"]
    result = subprocess.run([*command, "list", "lenet*"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lenet5"]


def test_bad_arguments_exit_with_usage():
    with pytest.raises(SystemExit) as caught:
        main(["info"])
    assert caught.value.code == 2
