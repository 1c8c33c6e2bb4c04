"""``manage.py create_buckets`` creates the object store's buckets once, against moto's S3
server (a stand-in for the compose file's SeaweedFS), and refuses a filesystem storage."""

import io

import boto3
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from moto.server import ThreadedMotoServer


@pytest.fixture
def object_store(settings):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    common = {**settings.S3_STORAGE_OPTIONS, "access_key": "AKIAPODIUMTEST",
              "secret_key": "podium-test-secret", "region_name": "eu-west-1",
              "endpoint_url": url}
    stores = {alias: {"BACKEND": "storages.backends.s3.S3Storage",
                      "OPTIONS": {**common, "bucket_name": f"podium-cb-{alias}"}}
              for alias in ("default", "private")}
    client = boto3.client("s3", endpoint_url=url, region_name="eu-west-1",
                          aws_access_key_id="AKIAPODIUMTEST",
                          aws_secret_access_key="podium-test-secret")
    try:
        with override_settings(STORAGES={**settings.STORAGES, **stores}):
            yield client
    finally:
        for alias in ("default", "private"):  # moto keeps buckets per process
            try:
                client.delete_bucket(Bucket=f"podium-cb-{alias}")
            except client.exceptions.ClientError:
                pass
        server.stop()


def names(client) -> set[str]:
    return {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_creates_the_missing_buckets_and_then_leaves_them(object_store):
    out = io.StringIO()
    call_command("create_buckets", stdout=out)
    assert {"podium-cb-default", "podium-cb-private"} <= names(object_store)
    assert out.getvalue().count("created") == 2
    again = io.StringIO()
    call_command("create_buckets", stdout=again)
    assert again.getvalue().count("exists") == 2 and "created" not in again.getvalue()


def test_refuses_a_filesystem_storage():
    with pytest.raises(CommandError, match="PODIUM_STORAGE=s3"):
        call_command("create_buckets")
