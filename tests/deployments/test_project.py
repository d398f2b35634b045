"""The project folder's files: the repository's prefect.yaml is the same template."""

from pathlib import Path

import yaml

from retrainer.deployments.project import (
    REPOSITORY_DIRECTORY,
    project_files,
    render_prefect_yaml,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_repositorys_prefect_yaml_is_the_project_template_rendered_for_workers():
    # regenerate with: python -c "from retrainer.deployments.project import *;
    #   print(render_prefect_yaml(REPOSITORY_DIRECTORY, project=False), end='')" > prefect.yaml
    rendered = render_prefect_yaml(REPOSITORY_DIRECTORY, project=False)

    assert (REPO_ROOT / "prefect.yaml").read_text() == rendered


def test_a_project_gets_the_same_deployments_running_in_its_own_folder(tmp_path):
    files = project_files(tmp_path / "proj", "model: {}\n", from_data=False)

    project = yaml.safe_load(files.prefect)
    repository = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())

    assert project["deployments"] == repository["deployments"]
    [step] = project["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == str(
        (tmp_path / "proj").resolve()
    )
    # Prefect's own placeholders pass through the template untouched
    assert "{{ event.id | string }}" in files.prefect
    assert "retrainer simulate" in files.readme
