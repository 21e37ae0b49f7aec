"""deploy/docker-compose.yml: the API and the Dask workers on one MinIO bucket, closed by default.

Read as YAML (anchors and merge keys resolved, as compose does) and, where a compose CLI is installed,
resolved by it (`config`): the API and every worker get the same lake environment, no secret is written
in the file (each comes from deploy/.env and compose refuses to start without it), every published
port is on 127.0.0.1 unless the user says otherwise, the Dask services run the cde image, and the
bucket exists before anything that uses it starts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).parents[1]
COMPOSE = REPO / "deploy" / "docker-compose.yml"
LAKE_VARIABLES = ("CDE_DATA_ROOT", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                  "CDE_CACHE_DIR", "CDE_EXECUTOR", "CDE_DASK_SCHEDULER")
#: what deploy/.env must hold; compose stops with the variable's name when one is missing
REQUIRED = {"CDE_API_KEYS": "[test-api-key]", "CDE_S3_ACCESS_KEY": "test-user", "CDE_S3_SECRET_KEY": "test-secret-1"}
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|ROOT_USER", re.IGNORECASE)
REQUIRED_REFERENCE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]+\}$")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, so anchors can be merged"
    return {name: str(value) for name, value in env.items()}


def test_the_api_and_the_workers_see_the_same_lake(services: dict[str, Any]) -> None:
    api, worker = environment(services["api"]), environment(services["dask-worker"])
    for name in LAKE_VARIABLES:
        assert name in worker, name
        assert api.get(name) == worker[name], name
    assert worker["CDE_DATA_ROOT"].startswith("s3://") and worker["CDE_EXECUTOR"] == "dask"
    endpoint = urlparse(worker["AWS_ENDPOINT_URL"])
    assert endpoint.hostname == "minio" and endpoint.port == 9000 and "minio" in services
    assert services["minio"]["command"][:2] == ["server", "/data"]
    scheduler = urlparse(worker["CDE_DASK_SCHEDULER"])
    command = services["dask-scheduler"]["command"]
    assert scheduler.hostname == "dask-scheduler" and str(scheduler.port) == command[command.index("--port") + 1]
    # the workers join that scheduler, and the bucket of the data root is the one the init job creates
    assert services["dask-worker"]["command"][:3] == ["dask", "worker", worker["CDE_DASK_SCHEDULER"]]
    bucket = worker["CDE_DATA_ROOT"].removeprefix("s3://").split("/")[0]
    assert environment(services["minio-init"])["CDE_S3_BUCKET"] == bucket == "${CDE_S3_BUCKET:-cde-lake}"
    assert 'mc mb --ignore-existing "lake/$$CDE_S3_BUCKET"' in " ".join(services["minio-init"]["command"])


def test_no_secret_is_written_in_the_file(services: dict[str, Any]) -> None:
    secrets = {(service, name): value for service, body in services.items()
               for name, value in environment(body).items() if SECRET_NAME.search(name)}
    assert len(secrets) >= 8
    for (service, name), value in secrets.items():
        match = REQUIRED_REFERENCE.match(value)
        assert match and match["name"] in REQUIRED, f"{service}.{name} = {value}"
    # the workers' keys are MinIO's root user and password
    minio, worker = environment(services["minio"]), environment(services["dask-worker"])
    assert minio["MINIO_ROOT_USER"] == worker["AWS_ACCESS_KEY_ID"]
    assert minio["MINIO_ROOT_PASSWORD"] == worker["AWS_SECRET_ACCESS_KEY"]


def test_every_published_port_is_on_loopback_by_default(services: dict[str, Any]) -> None:
    published = [(name, str(port)) for name, body in services.items() for port in body.get("ports", [])]
    assert {name for name, _ in published} == {"api", "minio", "dask-scheduler"}
    for name, port in published:
        assert re.match(r"^\$\{[A-Z0-9_]+:-127\.0\.0\.1\}:", port), (name, port)
    # the Dask scheduler runs what it is sent: it never follows the API's CDE_BIND
    assert not any("CDE_BIND" in port for name, port in published if name == "dask-scheduler")


def test_the_dask_services_run_the_cde_image_with_cde_dask(services: dict[str, Any]) -> None:
    builds = {name: (services[name]["build"]["dockerfile"], services[name]["image"])
              for name in ("api", "dask-scheduler", "dask-worker")}
    assert set(builds.values()) == {("deploy/Dockerfile", "cde:latest")}
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "--all-packages" in dockerfile and "--no-install-package cde-dask" not in dockerfile
    dask = tomllib.loads((REPO / "packages" / "cde-dask" / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("dask[distributed]") for dep in dask["dependencies"])
    assert services["dask-scheduler"]["command"][:2] == ["dask", "scheduler"]


def test_the_bucket_exists_before_its_users_start(services: dict[str, Any]) -> None:
    assert services["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["minio-init"]["restart"] == "no"
    for name in ("api", "dask-worker"):
        assert services[name]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully", name
        assert services[name]["depends_on"]["dask-scheduler"]["condition"] == "service_healthy", name


def compose_command() -> list[str] | None:
    """`docker compose` (v2), else the `docker-compose` of Debian (v1, which knows no top-level
    `name`), else None."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def compose_config(tmp_path: Path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose CLI installed")
    compose = COMPOSE
    if command[0].endswith("docker-compose"):
        compose = tmp_path / "deploy" / "docker-compose.yml"
        compose.parent.mkdir(exist_ok=True)
        compose.write_text(re.sub(r"(?m)^name: .*\n", "", COMPOSE.read_text()))
    env_file = tmp_path / "test.env"  # never the developer's deploy/.env
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    env = {"PATH": str(Path(command[0]).parent)}
    return subprocess.run([*command, "-f", str(compose), "--env-file", str(env_file), "config"],
                          capture_output=True, text=True, env=env, check=False)


def test_compose_resolves_the_stack_on_loopback(tmp_path: Path) -> None:
    done = compose_config(tmp_path, REQUIRED)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]
    api, worker = environment(resolved["api"]), environment(resolved["dask-worker"])
    assert {n: worker[n] for n in LAKE_VARIABLES} == {n: api[n] for n in LAKE_VARIABLES}
    assert worker["CDE_DATA_ROOT"] == "s3://cde-lake/lake"
    assert worker["AWS_SECRET_ACCESS_KEY"] == environment(resolved["minio"])["MINIO_ROOT_PASSWORD"] == "test-secret-1"
    for name, body in resolved.items():
        for port in body.get("ports", []):
            host = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host == "127.0.0.1", (name, port)


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_refuses_to_start_without_a_secret(tmp_path: Path, missing: str) -> None:
    done = compose_config(tmp_path, {name: value for name, value in REQUIRED.items() if name != missing})
    assert done.returncode != 0 and missing in done.stderr, done.stderr
