"""A registered model to deploy: `churn` version 1 (@champion) in a SQLite registry.

Its folder holds an `MLmodel`, a `requirements.txt` with known pins, and a
`python_env.yaml` saying Python 3.12.3, so the tests can check what the image installs
and which base it starts from. Nothing here loads the model: deployment only copies it.
"""

from __future__ import annotations

import pytest
from deploy_support import Registered, save_model_folder


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    from slipway.tracking.client import Client

    root = tmp_path_factory.mktemp("deploy-registry")
    uri = f"sqlite:///{root / 'db.sqlite'}"
    folder = save_model_folder(root / "saved" / "churn")
    client = Client(uri)
    try:
        experiment_id = client.create_experiment(
            "deploy-tests", artifact_location=str(root / "artifacts")
        )
        run_id = client.create_run(experiment_id).info.run_id
        client.log_artifacts(run_id, folder, "model")
        client.set_terminated(run_id)
        client.create_registered_model("churn")
        client.create_model_version("churn", f"runs:/{run_id}/model", run_id)
        client.set_registered_model_alias("churn", "champion", "1")
    finally:
        client.close()
    return Registered(uri, folder)
