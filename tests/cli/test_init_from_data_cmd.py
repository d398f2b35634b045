"""``retrainer init --from-data``: a commented config inferred from the data (real CLI runs)."""

from __future__ import annotations

import pytest
import yaml

from retrainer.config import load_config

pytestmark = pytest.mark.slow

CSV = """order_id,created,amount,items,channel,note,churned
{rows}"""


def _raw_csv(folder, rows: int = 60):
    lines = [
        f"o{i},2026-01-{1 + i // 10:02d} 10:{i % 60:02d}:00,{i * 1.5},{i % 4},"
        f"{['web', 'shop'][i % 2]},note {i},{i % 3 == 0}"
        for i in range(rows)
    ]
    path = folder / "orders.csv"
    path.write_text(CSV.format(rows="\n".join(lines)) + "\n")
    return path


def test_a_raw_csv_gives_a_config_and_the_import_to_run(tmp_path, run_cli):
    # given a raw CSV in a fresh folder
    _raw_csv(tmp_path)

    # when a config is inferred from it
    result = run_cli("init", "--from-data", "orders.csv", "--target", "churned", cwd=tmp_path)

    # then it is written, valid, with its guesses commented, and the import to run is printed
    assert result.exit_code == 0, result.stderr
    config = load_config(tmp_path / "retrainer.yaml")
    assert config.model.task == "binary"
    assert config.model.name == tmp_path.name  # the folder's name
    assert (config.columns.id, config.columns.timestamp) == ("order_id", "created")
    assert config.columns.label_timestamp == "label_time"
    assert config.columns.numeric == ["amount", "items"]
    assert config.columns.categorical == ["channel"]
    text = (tmp_path / "retrainer.yaml").read_text()
    assert "id: order_id  # guessed: one of 2 columns with unique values (also: note)" in text
    assert "- items  # guessed: 4 distinct integer values" in text
    assert "#   note: near-unique text" in text
    assert (
        "retrainer import orders.csv --timestamp created --target churned --id order_id"
        in result.stdout
    )
    assert 'marked "# guessed:" in the file: check them' in result.stdout


def test_the_printed_import_makes_the_config_check_pass(tmp_path, run_cli):
    _raw_csv(tmp_path)
    init = run_cli(
        "init", "--from-data", "orders.csv", "--target", "churned", "--json", cwd=tmp_path
    )
    command = init.json()["import_command"].split()[1:]

    imported = run_cli(*command, cwd=tmp_path)
    check = run_cli("config", "check", cwd=tmp_path)

    assert imported.exit_code == 0, imported.stderr
    assert check.exit_code == 0, check.stderr
    assert "checked: features: 6 partitions 2026-01-01..2026-01-06" in check.stderr


def test_name_and_hints_are_used(tmp_path, run_cli):
    _raw_csv(tmp_path)

    result = run_cli(
        "init",
        "--from-data",
        "orders.csv",
        "--target",
        "churned",
        "--name",
        "orders-churn",
        "--id",
        "order_id",
        "--timestamp",
        "created",
        "conf/churn.yaml",
        cwd=tmp_path,
    )

    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load((tmp_path / "conf" / "churn.yaml").read_text())
    assert data["model"]["name"] == "orders-churn"
    assert data["data"]["source"] == "data"
    assert "--out conf/data" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target", "churned"], "error: --from-data PATH and --target COL go together"),
        (["--from-data", "orders.csv"], "error: --from-data PATH and --target COL go together"),
        (
            ["--from-data", "orders.csv", "--target", "label"],
            "error: --from-data orders.csv: --target label: no such column in",
        ),
        (
            ["--from-data", "missing.csv", "--target", "churned"],
            "error: --from-data missing.csv: missing.csv: no such file or folder",
        ),
        (["--name", "x"], "error: --name, --timestamp and --id need --from-data"),
    ],
    ids=["target-alone", "data-alone", "no-target", "no-file", "hint-alone"],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path, run_cli, args, expected):
    _raw_csv(tmp_path)

    result = run_cli("init", *args, cwd=tmp_path)

    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "retrainer.yaml").exists()


def test_an_existing_config_is_kept_unless_forced(tmp_path, run_cli):
    _raw_csv(tmp_path)
    (tmp_path / "retrainer.yaml").write_text("# mine\n")
    args = ("init", "--from-data", "orders.csv", "--target", "churned")

    kept = run_cli(*args, cwd=tmp_path)
    forced = run_cli(*args, "--force", cwd=tmp_path)

    assert kept.exit_code == 2
    assert "retrainer.yaml exists; pass --force to overwrite" in kept.stderr
    assert forced.exit_code == 0, forced.stderr
    assert (tmp_path / "retrainer.yaml").read_text().startswith("# retrainer.yaml")
