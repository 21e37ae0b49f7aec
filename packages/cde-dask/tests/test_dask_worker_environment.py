"""The worker-side check of the AWS settings, case by case (the cluster tests cover two cases end to end).

Each case is a worker environment written out by hand and the variable the check must name (or None
when the worker can reach the store as the client does); then what a job's S3 failure becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cde_core.contracts.executor import Job
from cde_core.errors import RemoteError
from cde_core.object_store import ObjectPath
from cde_core.testing.ports import free_port
from cde_dask.worker_environment import ObjectStoreNeeds, missing_setting, needs_of, run_on_worker

URL = "s3://lake-bucket/lake"
MINIO = ObjectStoreNeeds(url=URL, endpoint_override=True, static_keys=True)
AWS_WITH_KEYS = ObjectStoreNeeds(url=URL, endpoint_override=False, static_keys=True)
KEYS = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}


def job_with(*args: object, **kwargs: object) -> Job:
    return Job("k", print, tuple(args), dict(kwargs))


@pytest.mark.parametrize(("job", "url"), [
    (job_with(URL, "time"), URL),
    (job_with(ObjectPath(URL) / "bars", 3), f"{URL}/bars"),
    (job_with({"base": {"root": [URL]}}), URL),   # inside a request's dump, three levels down
    (job_with(root=URL), URL),
    (job_with("/data/lake", "time", Path("/data/lake")), None),
    (job_with("not a url: s3 is mentioned"), None),
], ids=["string", "object-path", "nested", "keyword", "local", "plain-text"])
def test_the_lake_url_is_found_in_the_job_arguments(job: Job, url: str | None) -> None:
    needs = needs_of(job, {"AWS_ENDPOINT_URL": "http://minio:9000", **KEYS})
    assert (needs.url if needs else None) == url
    if needs is not None:
        assert needs.endpoint_override and needs.static_keys


def test_only_the_kinds_of_settings_travel_with_the_job() -> None:
    needs = needs_of(job_with(URL), {"AWS_ENDPOINT_URL_S3": "http://minio:9000", **KEYS})
    assert needs == MINIO and "secret" not in repr(needs) and "minio:9000" not in repr(needs)
    assert needs_of(job_with(URL), {}) == ObjectStoreNeeds(url=URL, endpoint_override=False, static_keys=False)


@pytest.mark.parametrize(("needs", "worker_env", "named"), [
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000", **KEYS}, None),
    (MINIO, {"AWS_ENDPOINT_URL_S3": "http://other-name:9000", **KEYS}, None),  # the worker's own name for it
    (MINIO, KEYS, "AWS_ENDPOINT_URL"),
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_ACCESS_KEY_ID": "id"}, "AWS_SECRET_ACCESS_KEY"),
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_SECRET_ACCESS_KEY": "s"}, "AWS_ACCESS_KEY_ID"),
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_PROFILE": "lake"}, None),
    (MINIO, {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, None),
    # on AWS itself an instance role may stand in for keys, unless the metadata service is off
    (AWS_WITH_KEYS, {}, None),
    (AWS_WITH_KEYS, {"AWS_EC2_METADATA_DISABLED": "true"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    # a client without static keys (a profile, a role) asks nothing of the worker's keys
    (ObjectStoreNeeds(url=URL, endpoint_override=True, static_keys=False), {"AWS_ENDPOINT_URL": "http://m"}, None),
])
def test_the_missing_setting_is_named(needs: ObjectStoreNeeds, worker_env: dict[str, str], named: str | None,
                                      tmp_path: Path) -> None:
    missing = missing_setting(needs, worker_env, home=tmp_path)
    if named is None:
        assert missing is None
    else:
        assert missing is not None and missing.startswith(f"{named} ") and " not set" in missing, missing


def test_a_shared_credentials_file_counts_as_credentials(tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "http://minio:9000"}
    assert missing_setting(MINIO, env, home=tmp_path) is not None
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\naws_access_key_id = id\n")
    assert missing_setting(MINIO, env, home=tmp_path) is None
    elsewhere = tmp_path / "creds"
    elsewhere.write_text("[default]\n")
    assert missing_setting(MINIO, {**env, "AWS_SHARED_CREDENTIALS_FILE": str(elsewhere)},
                           home=tmp_path / "nowhere") is None


def probe(url: str) -> bool:
    return ObjectPath(url).exists()


def test_an_unreachable_store_becomes_one_remote_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker has every variable, but the store does not answer: one line naming the endpoint."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in {**KEYS, "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    job = Job("probe", probe, (f"{URL}/trades",))
    with pytest.raises(RemoteError) as caught:
        run_on_worker(job, needs_of(job))
    line = str(caught.value)
    assert "\n" not in line and line.startswith("the object store failed on a Dask worker: ")
    assert f"endpoint {endpoint}, lake {URL}" in line and "AWS Error" in line


def raise_os_error(root: str) -> None:
    raise FileNotFoundError(2, "No such file or directory", f"/tmp/{len(root)}")


def test_other_errors_of_a_job_pass_through_unchanged() -> None:
    job = Job("local", raise_os_error, (URL,))
    with pytest.raises(FileNotFoundError):
        run_on_worker(job, ObjectStoreNeeds(url=URL, endpoint_override=False, static_keys=False))
