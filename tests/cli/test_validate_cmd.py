"""``retrainer validate``: modes, exit codes, JSON output, release and quarantine listing."""

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from retrainer.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]
BAD_DAY = "2026-01-10"
CLEAN_DAY = "2026-01-09"

runner = CliRunner()


def _project(root: Path, simulate_days: int | None = None) -> Path:
    data = yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data["validation"] = {"reference": {"days": 5}}
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if simulate_days:
        from retrainer.simulate import simulate, write_simulation

        sim = simulate(
            "stable",
            days=simulate_days,
            seed=6,
            rows_per_day=200,
            incidents=[f"null_burst@{BAD_DAY}"],
        )
        write_simulation(sim, root / "data")
    return path


def _run(*args: str):
    return runner.invoke(app, ["validate", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-01-01", "--all"], "use only one of --date, --all"),
        (["--path", "x.parquet", "--release", "2026-01-01"], "use only one of --path, --release"),
        (["--date", "01/02/2026"], "--date: not a date"),
        (["--start", "2026-01-05", "--end", "2026-01-01"], "--start 2026-01-05 is after --end"),
        (["--note", "ok"], "--reason goes with --release or --release-all"),
    ],
)
def test_usage_errors_exit_2_without_running_anything(tmp_path, args, message):
    config = _project(tmp_path)

    result = _run("-c", str(config), *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / ".retrainer").exists()


def test_a_missing_config_exits_2_naming_the_file(tmp_path):
    result = _run("-c", str(tmp_path / "nope.yaml"))

    assert result.exit_code == 2
    assert "nope.yaml: file not found" in result.stderr


def test_listing_an_empty_quarantine(tmp_path):
    config = _project(tmp_path)

    text = _run("-c", str(config), "--list-quarantine")
    document = _run("-c", str(config), "--list-quarantine", "--json")

    assert text.exit_code == 0
    assert "no quarantined batches" in text.stdout
    assert json.loads(document.stdout) == {"quarantined": []}


@pytest.fixture(scope="module")
def project(prefect_api, tmp_path_factory) -> Path:
    # Prefect sets up its log handlers when first imported; inside CliRunner they would keep
    # writing to the first invocation's stderr, which is closed afterwards
    import prefect.main  # noqa: F401

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return _project(tmp_path_factory.mktemp("validate-cli"), simulate_days=12)


@pytest.fixture(autouse=True)
def _own_mlflow_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.mark.slow
def test_a_clean_date_exits_0_and_a_broken_one_exits_1_and_is_quarantined(project):
    clean = _run("-c", str(project), "--date", CLEAN_DAY)
    broken = _run("-c", str(project), "--date", BAD_DAY, "--json")

    assert clean.exit_code == 0, clean.output
    assert f"{CLEAN_DAY}: valid" in clean.stdout
    assert broken.exit_code == 1, broken.output
    document = json.loads(broken.stdout)  # stdout holds exactly the JSON document
    assert document["invalid"] == [BAD_DAY]
    finding = document["batches"][0]["failed"][0]
    assert finding["column"] == "income"
    assert finding["message"].startswith("income: expect_column_values_to_not_be_null failed: ")
    assert document["quarantined"][0].endswith(f"_quarantine/features/date={BAD_DAY}/data")

    # the quarantined date can be listed but no longer validated (it is not in the table)
    listed = json.loads(_run("-c", str(project), "--list-quarantine", "--json").stdout)
    assert [r["date"] for r in listed["quarantined"]] == [BAD_DAY]
    again = _run("-c", str(project), "--date", BAD_DAY)
    assert again.exit_code == 2
    assert f"{BAD_DAY} is quarantined; release it with" in again.stderr


@pytest.mark.slow
def test_an_adhoc_file_is_reported_but_not_moved(project, tmp_path):
    from retrainer.data import DataCatalog
    from retrainer.project import Project

    catalog = DataCatalog.for_project(Project.load(project))
    [key] = catalog.storage.list_keys(f"_quarantine/features/date={BAD_DAY}/data")
    copy = tmp_path / "suspicious.parquet"
    shutil.copy(catalog.storage.local_path(key), copy)

    result = _run("-c", str(project), "--path", str(copy))

    assert result.exit_code == 1, result.output
    assert "income: expect_column_values_to_not_be_null failed" in result.stdout
    assert copy.exists()
    assert "0 quarantined" in result.stdout


@pytest.mark.slow
def test_release_puts_a_batch_back_once(project):
    released = _run("-c", str(project), "--release", BAD_DAY, "--note", "upstream fixed", "--json")
    twice = _run("-c", str(project), "--release", BAD_DAY)

    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["note"] == "upstream fixed"
    assert twice.exit_code == 2
    assert f"no quarantined batch for features on {BAD_DAY}" in twice.stderr
    # pending validation leaves the released batch alone
    pending = _run("-c", str(project), "--all", "--json")
    assert pending.exit_code == 0, pending.output
    assert BAD_DAY not in [b["batch"] for b in json.loads(pending.stdout)["batches"]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


@pytest.mark.parametrize("as_json", [False, True])
def test_an_unreachable_s3_endpoint_exits_2_with_one_line_not_1(
    prefect_api, tmp_path, monkeypatch, as_json
):
    import prefect.main  # noqa: F401  (see the `project` fixture)

    # given a config whose data lives on an S3 endpoint nobody answers on
    config = _project(tmp_path)
    data = yaml.safe_load(config.read_text())
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    data["data"]["source"] = "s3://retrainer-unreachable/data"
    data["data"]["s3_endpoint_url"] = endpoint
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",  # fail fast: no retries against a closed port
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    # when validating the pending batches
    result = _run("-c", str(config), "--all", *(["--json"] if as_json else []))

    # then it is not "an invalid batch" (1) nor a traceback: exit 2 with one line naming it
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: validation failed: EndpointConnectionError: ")
    assert endpoint in errors[0]
    if as_json:
        document = json.loads(result.stdout)
        assert document["ok"] is False
        assert document["error"].startswith("validation failed: EndpointConnectionError")
