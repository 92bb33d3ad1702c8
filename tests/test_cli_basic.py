import json

import pytest

from nagkit.cli import main

OPT_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_query_json(capsys):
    assert main(["query", "nb201", OPT_C10, "--dataset", "cifar10", "--metric", "test_acc", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert round(out["value"], 2) == 94.37 and out["dataset"] == "cifar10"


def test_space_stats(capsys):
    assert main(["space", "nb201", "--stats", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cells"] == 15625 and out["distinct_functions"] == 4930 and len(out["vocabulary"]) == 7


def test_info(capsys):
    assert main(["info", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["versions"]["torch"].startswith("2.14.1")


def test_bad_input_exit_2(capsys):
    assert main(["query", "nb201", "|bad~0|", "--dataset", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert main(["query", "nb201", OPT_C10, "--dataset", "svhn"]) == 2
    assert "valid:" in capsys.readouterr().err


def test_report_builds(tmp_path, capsys):
    from nagkit.report import row, write_results

    write_results(tmp_path / "x.json", "x", "quick", [row("T", "r", "1", "1", "reproduced")])
    assert main(["report", "--results", str(tmp_path), "--json"]) == 0
    assert "| r | 1 | 1 | reproduced |" in (tmp_path / "REPORT.md").read_text()


def test_usage_errors_are_one_line(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nagkit: error:")
    assert main(["query", "nb201", OPT_C10, "--dataset", "cifar10", "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --seed: invalid choice: 5" in err
    assert main(["info", "--help"]) == 0
    assert "--json" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["search", "--method", "rs", "--budget", "15626"],
                                  ["transfer", "--dataset", "cifar10", "--n-unique", "15626"]])
def test_counts_beyond_the_space_fail_in_the_handler(argv, capsys):
    """Parse time caps counts generically; the handler checks the chosen space (15,625 NB201 cells)."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "15626 exceeds the 15,625 architectures of the nb201 benchmark" in err and "\n" not in err
