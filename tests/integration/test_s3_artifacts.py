"""Artifacts on S3 through s3fs, against a real S3 HTTP endpoint on 127.0.0.1 (moto's server):
the artifact store contract, the digest check on bytes changed behind the store's back, and
atomic publish (an upload cut before its completion marker is invisible, then replaced)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.artifacts import connect as connect_artifacts
from mloop.artifacts.fsspec import FsspecArtifactStore
from mloop.errors import ArtifactNotFoundError, IntegrityError
from mloop.testing.artifact_contracts import ArtifactStoreContract

pytestmark = pytest.mark.integration


def _s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A plain boto3 client: another writer than the store, as a person or a bug would be."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _key(store: FsspecArtifactStore, uri: str, relpath: str) -> tuple[str, str]:
    path = store.root.removeprefix("s3://")
    bucket, _, prefix = path.partition("/")
    return bucket, f"{prefix}/{uri}/{relpath}" if prefix else f"{uri}/{relpath}"


class TestS3ArtifactStore(ArtifactStoreContract):
    __test__ = True
    backend = ("artifact_stores", "fsspec")

    @pytest.fixture
    def store(self, s3_root: str, s3_endpoint: str) -> FsspecArtifactStore:
        self.endpoint = s3_endpoint
        store = connect_artifacts(s3_root)  # as settings pick it: s3:// -> the fsspec store
        assert isinstance(store, FsspecArtifactStore)
        return store

    def tamper(self, store, uri: str, relpath: str, data: bytes | None) -> None:  # type: ignore[no-untyped-def]
        bucket, key = _key(store, uri, relpath)
        client = _s3_client(self.endpoint)
        if data is None:
            client.delete_object(Bucket=bucket, Key=key)
        else:
            client.put_object(Bucket=bucket, Key=key, Body=data)
        store._filesystem().invalidate_cache()  # s3fs lists lazily; the bytes are what count


def _publish(store: FsspecArtifactStore, uri: str, files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    folder = store.new_staging_dir()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return store.put_dir(folder, uri)


def test_a_flipped_byte_on_s3_is_refused_on_read(s3_root: str, s3_endpoint: str):
    store = FsspecArtifactStore.from_url(s3_root, client_kwargs={"endpoint_url": s3_endpoint})
    stored = _publish(store, "runs/r1/model", {"model.bin": b"\x00" * 1000, "meta/x.json": b"{}"})
    with store.open_local(stored.uri, digest=stored.digest) as local:
        assert (local / "model.bin").read_bytes() == b"\x00" * 1000
    bucket, key = _key(store, stored.uri, "model.bin")
    _s3_client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=b"\x00" * 999 + b"\x01")
    store._filesystem().invalidate_cache()
    with pytest.raises(IntegrityError, match="corrupt or was modified"):
        with store.open_local(stored.uri, digest=stored.digest):
            pass
    with pytest.raises(IntegrityError):  # without a digest: the one the marker recorded
        with store.open_local(stored.uri):
            pass


def test_an_upload_cut_before_its_marker_is_invisible_then_replaced(
    s3_root: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    store = FsspecArtifactStore.from_url(s3_root, client_kwargs={"endpoint_url": s3_endpoint})
    fs = store._filesystem()
    real_pipe = fs.pipe_file

    def cut(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path.endswith(".mloop-artifact.json"):
            raise ConnectionError("network cut before the marker")
        return real_pipe(path, *args, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", cut)
    with pytest.raises(ConnectionError):
        _publish(store, "runs/r2/out", {"data.parquet": b"half of it"})
    monkeypatch.setattr(fs, "pipe_file", real_pipe)

    bucket, key = _key(store, "runs/r2/out", "data.parquet")
    listed = _s3_client(s3_endpoint).list_objects_v2(Bucket=bucket, Prefix=key)
    assert listed.get("KeyCount") == 1  # the data object did reach S3...
    fresh = FsspecArtifactStore(s3_root, storage_options={"skip_instance_cache": True})
    for reader in (store, fresh):  # ...but no reader sees an artifact there
        assert not reader.exists("runs/r2/out")
        assert list(reader.iter_uris("runs")) == []
        with pytest.raises(ArtifactNotFoundError):
            with reader.open_local("runs/r2/out"):
                pass

    stored = _publish(store, "runs/r2/out", {"data.parquet": b"the whole of it"})
    assert fresh.exists("runs/r2/out") and list(fresh.iter_uris()) == ["runs/r2/out"]
    with fresh.open_local("runs/r2/out", digest=stored.digest) as local:
        assert [p.name for p in Path(local).iterdir()] == ["data.parquet"]
        assert (local / "data.parquet").read_bytes() == b"the whole of it"


def test_a_pipeline_on_postgres_and_s3(s3_root: str, postgres_url: str, tmp_path: Path):
    """The local runner with the production stores: outputs read back from S3 by digest."""
    from mloop.config import Settings
    from mloop.metadata import connect as connect_metadata
    from mloop.testing.contracts import contract_diamond

    settings = Settings(
        project_dir=tmp_path,
        project="s3",
        environment="dev",
        metadata_url=postgres_url,
        artifact_root=s3_root,
    )
    work = tmp_path / "work"
    work.mkdir()
    handle = contract_diamond.run_with({"n": 6, "folder": str(work)}, settings=settings)
    assert handle.outputs["contract_join"] == {"sum": 30 + 55, "n": 6}
    md = connect_metadata(postgres_url)
    (artifact,) = handle.artifacts("contract_join").values()
    assert md.get_artifact(artifact.id).digest == artifact.digest
    store = connect_artifacts(s3_root)
    assert set(store.iter_uris(f"runs/{handle.id}")) == {
        a.uri
        for step in ("contract_source", "contract_double", "contract_square", "contract_join")
        for a in handle.artifacts(step).values()
    }
