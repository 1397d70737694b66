"""advdl-mlflow against a real MLflow tracking server (SQLite backend store, started here on 127.0.0.1),
read back with MLflow's own client: params, metrics, tags, artifacts, multi-seed parents, resume, a dataset
family, an unreachable server."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

EXPERIMENT = "advdl-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield uri
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def client(server, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    return MlflowClient(server)


def advdl(server, *args, uri=None):
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri or server, MLFLOW_EXPERIMENT_NAME=EXPERIMENT,
               TF_CPP_MIN_LOG_LEVEL="3")
    quiet = ["--no-progress"] if args[0] == "run" else []
    done = subprocess.run([sys.executable, "-m", "advdl", *map(str, args), *quiet], env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def runs_of(client, **tags):
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    where = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    return client.search_runs([experiment], filter_string=where)


def test_a_run_logs_params_metrics_tags_and_artifacts(server, client, tmp_path):
    out = tmp_path / "ql"
    advdl(server, "run", "qlearning", "--env", "FrozenLake-v1", "--steps", 3000, "--set", "gamma=0.9",
          "--set", "log_interval=1000", "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    [run] = runs_of(client, **{"advdl.run_dir": str(out.resolve())})
    assert run.info.status == "FINISHED"
    assert run.data.tags["advdl.algorithm"] == "qlearning" and run.data.tags["advdl.env"] == "FrozenLake-v1"
    assert run.data.tags["advdl.seed"] == "0" and run.data.tags["advdl.version"]
    assert run.data.params["gamma"] == "0.9" and run.data.params["steps"] == "3000"
    assert run.data.metrics["final/eval_mean"] == pytest.approx(summary["eval"]["mean"])
    history = client.get_metric_history(run.info.run_id, "env_steps")
    assert [m.step for m in history] == [m.value for m in history] and len(history) == 3  # every metrics.csv row
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "summary.json", "learning_curve.png", "model.npz"} <= logged


def test_a_multi_seed_run_is_a_parent_with_one_child_per_seed(server, client, tmp_path):
    out = tmp_path / "seeds"
    advdl(server, "run", "qlearning", "--env", "FrozenLake-v1", "--steps", 2000, "--seeds", "0,1", "--out", out)
    [parent] = runs_of(client, **{"advdl.group_dir": str(out.resolve())})
    children = runs_of(client, **{"mlflow.parentRunId": parent.info.run_id})
    assert sorted(c.data.tags["advdl.seed"] for c in children) == ["0", "1"]
    assert parent.info.status == "FINISHED" and parent.data.tags["advdl.group"] == "seeds"


def test_a_sweep_is_a_parent_of_its_combinations_each_a_parent_of_its_seeds(server, client, tmp_path):
    out = tmp_path / "sweep"
    advdl(server, "sweep", "qlearning", "--env", "FrozenLake-v1", "--grid", "gamma=0.9,0.99", "--seeds", "0,1",
          "--steps", 1000, "--out", out)
    [sweep] = runs_of(client, **{"advdl.group_dir": str(out.resolve())})
    combinations = runs_of(client, **{"mlflow.parentRunId": sweep.info.run_id})
    assert len(combinations) == 2 and {c.data.tags["advdl.group"] for c in combinations} == {"seeds"}
    for combination in combinations:
        seeds = runs_of(client, **{"mlflow.parentRunId": combination.info.run_id})
        assert sorted(r.data.tags["advdl.seed"] for r in seeds) == ["0", "1"]
        assert len({r.data.params["gamma"] for r in seeds}) == 1
    assert sweep.data.tags["advdl.group"] == "sweep"


def test_a_resumed_run_continues_its_mlflow_run(server, client, tmp_path):
    out = tmp_path / "resumed"
    advdl(server, "run", "qlearning", "--env", "FrozenLake-v1", "--steps", 2000, "--out", out)
    advdl(server, "run", "--resume", out, "--steps", 4000)
    [run] = runs_of(client, **{"advdl.run_dir": str(out.resolve())})
    assert run.data.tags["advdl.resumed_at_step"] == "2000" and run.info.status == "FINISHED"
    assert max(m.step for m in client.get_metric_history(run.info.run_id, "env_steps")) == 4000


def test_a_dataset_run_logs_its_test_metrics_and_figures(server, client, tmp_path):
    out = tmp_path / "cnn"
    advdl(server, "run", "cnn", "--data", "synthetic_mnist", "--epochs", 1, "--out", out)
    [run] = runs_of(client, **{"advdl.run_dir": str(out.resolve())})
    summary = json.loads((out / "summary.json").read_text())
    assert run.data.tags["advdl.data"] == "synthetic_mnist"
    assert run.data.metrics["final/test_accuracy"] == pytest.approx(summary["final"]["test_accuracy"])
    assert "epoch/test_accuracy" in run.data.metrics
    assert {"confusion_matrix.png", "model.keras"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_an_unreachable_server_costs_one_warning_not_the_run(server, tmp_path):
    out = tmp_path / "offline"
    started = time.time()
    done = advdl(server, "run", "qlearning", "--env", "FrozenLake-v1", "--steps", 1000, "--out", out,
                 uri="http://127.0.0.1:9")
    assert (out / "summary.json").is_file()
    assert done.stderr.count("advdl-mlflow: cannot log to http://127.0.0.1:9") == 1
    assert time.time() - started < 120


def test_listing_loads_the_plugin_without_importing_mlflow():
    code = ("import sys; from advdl.commands.main import main; main(['list'])\n"
            "assert 'advdl_mlflow' in sys.modules and 'mlflow' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failed to load" not in done.stdout


def test_the_plugin_uses_only_the_public_api():
    source = (Path(__file__).parents[1] / "advdl_mlflow").glob("*.py")
    imports = {line.split()[1] for path in source for line in path.read_text().splitlines()
               if line.startswith(("from advdl", "import advdl")) and not line.startswith("from advdl_mlflow")}
    assert imports <= {"advdl", "advdl.api"}, imports
