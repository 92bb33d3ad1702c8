"""The CLI starts fast: importing it, building its parser and printing help import no torch (issue 15)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata

from nagkit.cli import build_parser, main
from nagkit.cli.common import LazyChoices

# Every subcommand's help is formatted too: a registry listed in a help text would load it.
HELP_ALL = """
import sys, argparse
from nagkit.cli import build_parser
parser = build_parser()
parser.format_help()
for sub in next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices.values():
    sub.format_help()
print(sorted(m for m in ("torch", "numpy", "scipy") if m in sys.modules))
"""


def python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def subparsers() -> dict[str, argparse.ArgumentParser]:
    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_importing_the_cli_does_not_import_torch():
    assert python("import nagkit.cli, sys; print('torch' in sys.modules)") == "False\n"


def test_parser_and_help_do_not_import_heavy_modules():
    assert python(HELP_ALL) == "[]\n"


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"nagkit {metadata.version('nagkit')}\n"


def test_lazy_choices_load_from_their_registries_and_hold_the_defaults():
    lazy = [(name, a) for name, p in subparsers().items() for a in p._actions if isinstance(a.choices, LazyChoices)]
    assert len(lazy) >= 10
    for name, action in lazy:
        assert len(action.choices) > 0, (name, action.dest)
        assert action.default is None or action.default in action.choices, (name, action.dest)


def test_generate_defaults_come_from_the_library(tmp_path, capsys):
    from nagkit.diffusion.sample import SamplerConfig

    assert main(["generate", "--space", "nb201", "--n", "2", "--out", str(tmp_path / "a.txt"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["sampler"], out["steps"], out["guidance_scale"]) == (SamplerConfig().method, SamplerConfig().steps,
                                                                      None)
