import pytest

from nagkit.report import build_report, row, write_results


def test_rows_need_notes_when_not_reproduced():
    with pytest.raises(ValueError, match="needs a note"):
        row("T", "r", "1", "2", "deviates")
    with pytest.raises(ValueError, match="status must be"):
        row("T", "r", "1", "2", "ok")


def test_report_groups_tables(tmp_path):
    write_results(tmp_path / "a.json", "a", "quick", [row("T1", "x", "1", "1", "reproduced")])
    write_results(tmp_path / "b.json", "b", "quick", [row("T1", "y", "2", "3", "deviates", "why"),
                                                      row("T2", "z", "4", "-", "needs", "make paper")])
    text = build_report(tmp_path, tmp_path / "REPORT.md")
    assert "1 reproduced, 1 deviate, 1 need" in text
    assert text.index("## T1") < text.index("| y | 2 | 3 | deviates | why |") < text.index("## T2")


def test_report_adds_paper_profile_tables_after_the_quick_ones(tmp_path):
    write_results(tmp_path / "a.json", "a", "quick", [row("T1", "x", "1", "1", "reproduced")])
    write_results(tmp_path / "paper" / "a.json", "a", "paper", [row("T1", "x", "1", "2", "deviates", "20 seeds")])
    text = build_report(tmp_path)
    assert "`a.json` (quick profile), `paper/a.json` (paper profile)" in text
    assert text.index("## T1\n") < text.index("## T1 (paper profile)") < text.index("| x | 1 | 2 | deviates | 20 seeds |")
    assert "1 reproduced, 1 deviate" in text
