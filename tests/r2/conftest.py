"""R2 test fixtures: a bucket on every backend, and a real S3 endpoint (moto's server mode).

``make_bucket(name="bucket", **keys)`` opens a Hearth runtime whose worker binds ``BUCKET`` to
the R2 bucket ``name`` on the backend under test (extra ``r2_buckets`` keys pass through); the
``r2`` fixture is one such bucket. A new backend is one more branch in ``bucket_entry``.
"""

from __future__ import annotations

import uuid

import pytest

from bindings.testing import free_port, require_service

BACKENDS = ["fs", "s3"]
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free loopback port, for the whole session."""
    try:
        import boto3
        import moto.s3.models
        from moto.server import ThreadedMotoServer
    except ImportError:
        require_service("moto S3 server", False, "pip install 'moto[server]'")
    # R2's multipart size rules are the bucket's: tests lower R2's minimum part size
    # (R2_MIN_PART_BYTES), so the test server must take small parts as real R2 in test mode.
    moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = 1
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:
        require_service("moto S3 server", False, str(exc))
    endpoint = f"http://127.0.0.1:{port}"
    admin = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    yield endpoint, admin
    admin.close()
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def bucket_entry(backend, request):
    """``bucket_entry(name, **keys)``: an r2_buckets entry on the backend under test."""
    run = uuid.uuid4().hex[:12]

    def entry(name: str = "bucket", binding: str = "BUCKET", **keys):
        table = {"binding": binding, "bucket_name": name, **keys}
        if backend == "s3":
            endpoint, admin = request.getfixturevalue("s3_endpoint")
            s3_bucket = f"t-{run}-{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:12]}"
            if not any(b["Name"] == s3_bucket for b in admin.list_buckets()["Buckets"]):
                admin.create_bucket(Bucket=s3_bucket)
            table = {"backend": "s3", "endpoint": endpoint, "s3_bucket": s3_bucket,
                     **CREDENTIALS, **table}  # fmt: skip
        return table

    return entry


@pytest.fixture
def make_bucket(hearth, bucket_entry, tmp_path):
    """``await make_bucket(name, **keys)``: the R2Bucket of a fresh runtime (state in tmp)."""

    async def make(name: str = "bucket", state_dir=None, **keys):
        config = {
            "workers": [
                {"name": "w", "main": "workers.hello.entry",
                 "r2_buckets": [bucket_entry(name, **keys)]}
            ]
        }  # fmt: skip
        h = await hearth(config, state_dir=state_dir or tmp_path / "state")
        return h.env().BUCKET

    return make


@pytest.fixture
async def r2(make_bucket):
    return await make_bucket()
