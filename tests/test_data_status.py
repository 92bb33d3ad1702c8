"""``nagkit data status``: every artifact of the paper profile, present / missing / wrong, with a command each.

Every test isolates the lookup: an empty data root in ``tmp_path``, torch's hub cache in ``tmp_path``
($TORCH_HOME) and no Debian Fashion-MNIST folder, so the machine's own downloads never leak in."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nagkit.cli import main
from nagkit.data import artifacts, datasets
from nagkit.data.artifacts import ARTIFACTS, get_artifact, status
from nagkit.data.fetch import RESOURCES
from tests.fixtures import make_aircraft, make_cifar, make_fashion_mnist


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM", tmp_path / "no-debian-package")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("NAGKIT_DATA", raising=False)


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


def test_registry_covers_the_paper_profile():
    names = {a.name for a in ARTIFACTS}
    assert len(names) == len(ARTIFACTS)
    assert {"cifar10", "cifar100", "aircraft", "pets", "fashion-mnist", "metad2a-records", "metad2a-tasks",
            "metad2a-idx", "metad2a-ridx", "imagenet32-bylabel", "imagenet32-features", "cifar10-bylabel",
            "cifar100-bylabel", "aircraft-bylabel", "pets-bylabel", "nats-tss", "ofa-mbv3"} <= names
    for a in ARTIFACTS:
        assert a.enables and a.what, a.name
        assert a.checksum is None or a.checksum.split(":")[0] in ("md5", "sha256"), a.name
        assert a.fetch is None or a.fetch in RESOURCES, a.name
    assert {a.fetch for a in ARTIFACTS if a.fetch} == set(RESOURCES)  # every `nagkit fetch` dataset, by its command


def test_names_match_the_loaders():
    from nagkit.benchmarks.nats import SIMPLE_NAME
    from nagkit.predictors import metad2a

    paths = {a.path for a in ARTIFACTS}
    for f in (metad2a.RECORDS_FILE, metad2a.TASKS_FILE, metad2a.IDX_FILE, metad2a.RIDX_FILE, metad2a.FEATURES_FILE,
              metad2a.SAFE_FEATURES):
        assert f"metad2a/{f}" in paths
    assert get_artifact("imagenet32-bylabel").url == metad2a.FEATURES_URL
    assert get_artifact("nats-tss").path == SIMPLE_NAME
    assert metad2a.default_source_dir().name == artifacts.METAD2A


def test_empty_root_everything_missing_with_a_command(tmp_path):
    rows = status(tmp_path / "data")
    assert [r["name"] for r in rows] == [a.name for a in ARTIFACTS]
    for r in rows:
        assert r["state"] == "missing" and not r["ok"], r["name"]
        assert r["command"], r["name"]
    rows = by_name(rows)
    root = str(tmp_path / "data")
    assert rows["cifar10"]["command"] == f"nagkit fetch cifar10 --root {root}"
    assert rows["pets"]["command"] == f"nagkit fetch pets --root {root}"
    ridx = rows["metad2a-ridx"]
    assert ridx["command"] == f"nagkit fetch metad2a-ridx --root {root}" and ridx["path"] == f"{root}/metad2a/ridx.pt"
    assert ridx["expected_size"] == 125_338 and ridx["checksum"].startswith("sha256:")
    assert rows["imagenet32-bylabel"]["checksum"] == "not published"
    assert rows["ofa-mbv3"]["checksum"] == "not published" and rows["ofa-mbv3"]["expected_size"] is None
    assert rows["resnet18-imagenet"]["path"] == str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth")


def test_default_root_omits_the_root_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("NAGKIT_DATA", str(tmp_path))
    assert by_name(status())["aircraft"]["command"] == "nagkit fetch aircraft"


def test_fixture_root_some_present(tmp_path):
    root = tmp_path / "data"
    make_cifar(root, "cifar10")
    make_aircraft(root)
    make_fashion_mnist(root)
    (root / "metad2a").mkdir()
    (root / "metad2a" / "imgnet32bylabel.pt").write_bytes(b"features")  # no published size: any size is present
    (root / "cifar-100-python").mkdir()
    (root / "cifar-100-python" / "train").write_bytes(b"x")  # half a dataset
    rows = by_name(status(root))
    for name in ("cifar10", "aircraft", "fashion-mnist", "imagenet32-bylabel"):
        assert rows[name]["state"] == "present" and rows[name]["ok"], name
    assert rows["imagenet32-bylabel"]["size"] == 8
    assert rows["cifar100"]["state"] == "incomplete" and rows["cifar100"]["missing_files"] == ["test"]
    assert rows["cifar10"]["fetched"] is False  # extracted by hand: no `nagkit fetch` marker
    assert rows["pets"]["state"] == rows["metad2a-records"]["state"] == "missing"


def test_fashion_mnist_from_the_debian_folder(tmp_path, monkeypatch):
    system = tmp_path / "debian"
    make_fashion_mnist(system, compressed=False)
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM", system / "fashion-mnist")
    row = by_name(status(tmp_path / "data"))["fashion-mnist"]
    assert row["ok"] and row["path"] == str(system / "fashion-mnist") != row["expected_path"]


def test_wrong_size_and_checksums(tmp_path):
    root = tmp_path / "data"
    ridx = get_artifact("metad2a-ridx")
    (root / "metad2a").mkdir(parents=True)
    (root / ridx.path).write_bytes(b"truncated")
    wrong = by_name(status(root))["metad2a-ridx"]
    assert wrong["state"] == "wrong size" and not wrong["ok"]
    assert wrong["size"] == 9 and wrong["expected_size"] == 125_338
    assert "wrong size" in artifacts.summary(root, hub=tmp_path)["text"]

    (root / ridx.path).write_bytes(b"\0" * ridx.size)  # right size, wrong bytes
    assert by_name(status(root))["metad2a-ridx"]["state"] == "present"  # by default only the size is compared
    bad = by_name(status(root, verify=True))["metad2a-ridx"]
    assert bad["state"] == "bad checksum" and bad["verified"] is False


def test_verify_passes_a_matching_file(tmp_path, monkeypatch):
    body = b"MetaD2A"
    fake = artifacts.Artifact("x", "x.pt", "a file", ("row",), size=len(body),
                              checksum="sha256:" + hashlib.sha256(body).hexdigest(), url="https://example.org/x.pt")
    monkeypatch.setattr(artifacts, "ARTIFACTS", (fake,))
    (tmp_path / "x.pt").write_bytes(body)
    (row,) = status(tmp_path, verify=True)
    assert row["state"] == "present" and row["verified"] is True


def test_verify_checks_kept_archives(tmp_path):
    root = tmp_path / "data"
    make_fashion_mnist(root)  # fixture bytes: not the published files
    row = by_name(status(root, verify=True))["fashion-mnist"]
    assert row["state"] == "bad checksum" and not row["ok"]
    assert all(a["present"] and a["verified"] is False for a in row["archives"])
    assert by_name(status(root))["fashion-mnist"]["ok"]  # without --verify nothing is read


def test_cli_json_lists_every_artifact(tmp_path, capsys):
    root = tmp_path / "data"
    make_cifar(root, "cifar10")
    assert main(["data", "status", "--root", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out["artifacts"]] == [a.name for a in ARTIFACTS]
    assert out["total"] == len(ARTIFACTS) and out["present"] == 1 and "cifar10" not in out["missing"]
    assert all(r["command"] and r["enables"] for r in out["artifacts"])
    assert "text" not in out


def test_cli_text_table_and_exit_0(tmp_path, capsys):
    assert main(["data", "status", "--root", str(tmp_path / "data")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["name", "state", "size", "enables"]
    for a in ARTIFACTS:
        assert any(line.startswith(a.name + " ") for line in lines), a.name
    assert "get: nagkit fetch pets" in text
    assert lines[-1].startswith(f"0 of {len(ARTIFACTS)} artifacts present")


def test_cli_bad_root_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["data", "status", "--root", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["data"]) == 2  # the subcommand is required


def test_commands_are_copy_pasteable(tmp_path):
    root = tmp_path / "my data"
    rows = by_name(status(root))
    assert rows["cifar10"]["command"] == f"nagkit fetch cifar10 --root '{root}'"
    assert rows["imagenet32-features"]["command"] == f"nagkit fetch imagenet32-features --root '{root}'"
    assert rows["nats-tss"]["command"].endswith(f"-C '{root}'")
    assert Path(rows["ofa-mbv3"]["path"]).name == artifacts.OFA_NET
