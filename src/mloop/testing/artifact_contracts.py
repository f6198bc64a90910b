"""The behaviour every :class:`~mloop.artifacts.base.ArtifactStore` backend must show.

A backend's tests subclass :class:`ArtifactStoreContract`, set ``__test__ = True``, override the
``store`` fixture and :meth:`ArtifactStoreContract.tamper` (which changes stored bytes behind the
store's back)::

    class TestMyStore(ArtifactStoreContract):
        __test__ = True

        @pytest.fixture
        def store(self, tmp_path):
            return MyArtifactStore.from_url(...)

        def tamper(self, store, uri, relpath, data):
            ...  # write ``data`` at <uri>/<relpath>, or delete that file when data is None
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mloop.artifacts.base import ArtifactStore, StoredObject
from mloop.artifacts.content import hash_folder
from mloop.errors import ArtifactNotFoundError, IntegrityError, StoreError, UnsafePathError

__all__ = ["MALICIOUS_URIS", "ArtifactStoreContract"]

MALICIOUS_URIS = [
    "../x",
    "a/../../x",
    "a/./../..",
    "..",
    "/etc/passwd",
    "//etc/passwd",
    "~",
    "~/x",
    "~root/x",
    "C:/Windows",
    "c:x",
    "a\\..\\..\\x",
    "a/b\x00c",
    "file:///etc/passwd",
    "s3://bucket/x",
    "",
    "/",
    ".",
    ".staging/x",
    "a/.mloop-artifact.json",
]


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


class ArtifactStoreContract:
    """Shared tests; subclasses provide ``store`` and ``tamper``."""

    __test__ = False

    FILES = {"data.bin": b"\x00\x01payload" * 100, "sub/meta.json": b'{"rows": 3}'}

    @pytest.fixture
    def store(self) -> ArtifactStore:
        raise NotImplementedError("override the 'store' fixture in the backend's test class")

    def tamper(self, store: ArtifactStore, uri: str, relpath: str, data: bytes | None) -> None:
        """Change ``<uri>/<relpath>`` directly in the backend (``None`` deletes the file)."""
        raise NotImplementedError("override tamper() in the backend's test class")

    def put(
        self, store: ArtifactStore, uri: str, files: dict[str, bytes] | None = None
    ) -> StoredObject:
        staging = _write(store.new_staging_dir(), self.FILES if files is None else files)
        return store.put_dir(staging, uri)

    # -- round trip ------------------------------------------------------------------------

    def test_put_then_open_returns_the_same_files(self, store: ArtifactStore) -> None:
        obj = self.put(store, "runs/r1/step/out")
        assert obj.uri == "runs/r1/step/out"
        assert obj.size == sum(len(v) for v in self.FILES.values())
        with store.open_local(obj.uri, digest=obj.digest) as folder:
            got = {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in folder.rglob("*")
                if p.is_file() and not p.name.startswith(".mloop")
            }
        assert got == self.FILES

    def test_digest_is_the_content_digest_and_stable(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        a = self.put(store, "a")
        b = self.put(store, "b")
        expected = hash_folder(_write(tmp_path / "ref", self.FILES))
        assert a.digest == b.digest == expected.digest
        renamed = {"other.bin" if k == "data.bin" else k: v for k, v in self.FILES.items()}
        assert self.put(store, "c", renamed).digest != a.digest
        changed = {**self.FILES, "data.bin": self.FILES["data.bin"] + b"!"}
        assert self.put(store, "d", changed).digest != a.digest

    def test_empty_folder_is_an_artifact(self, store: ArtifactStore) -> None:
        obj = self.put(store, "empty", {})
        assert obj.size == 0
        assert store.exists("empty")
        with store.open_local("empty", digest=obj.digest) as folder:
            assert folder.is_dir()

    def test_uri_is_normalized(self, store: ArtifactStore) -> None:
        obj = self.put(store, "x//y/./z/")
        assert obj.uri == "x/y/z"
        assert store.exists("x/y/z")

    # -- integrity -------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "relpath, data",
        [("data.bin", b"tampered"), ("sub/meta.json", None), ("extra.txt", b"added")],
        ids=["changed", "removed", "added"],
    )
    def test_tampering_is_detected(
        self, store: ArtifactStore, relpath: str, data: bytes | None
    ) -> None:
        obj = self.put(store, "t")
        self.tamper(store, "t", relpath, data)
        with pytest.raises(IntegrityError) as info, store.open_local("t", digest=obj.digest):
            pass
        assert info.value.expected == obj.digest

    def test_wrong_digest_is_refused(self, store: ArtifactStore) -> None:
        self.put(store, "w")
        with pytest.raises(IntegrityError), store.open_local("w", digest="0" * 64):
            pass

    def test_missing_artifact(self, store: ArtifactStore) -> None:
        with pytest.raises(ArtifactNotFoundError), store.open_local("nope"):
            pass
        with pytest.raises(ArtifactNotFoundError):
            store.delete("nope")
        assert not store.exists("nope")

    # -- confinement -----------------------------------------------------------------------

    @pytest.mark.parametrize("uri", MALICIOUS_URIS)
    def test_unsafe_uris_are_refused(self, store: ArtifactStore, uri: str) -> None:
        staging = _write(store.new_staging_dir(), {"f": b"x"})
        with pytest.raises(UnsafePathError):
            store.put_dir(staging, uri)
        with pytest.raises(UnsafePathError):
            store.exists(uri)
        with pytest.raises(UnsafePathError), store.open_local(uri):
            pass
        with pytest.raises(UnsafePathError):
            store.delete(uri)
        assert list(store.iter_uris()) == []

    # -- immutability ----------------------------------------------------------------------

    def test_no_overwrite(self, store: ArtifactStore) -> None:
        first = self.put(store, "k")
        with pytest.raises(StoreError):
            self.put(store, "k", {"other": b"y"})
        with store.open_local("k", digest=first.digest) as folder:
            assert (folder / "data.bin").read_bytes() == self.FILES["data.bin"]

    def test_no_artifact_inside_or_around_another(self, store: ArtifactStore) -> None:
        self.put(store, "outer/inner")
        with pytest.raises(StoreError):
            self.put(store, "outer/inner/deeper")
        with pytest.raises(StoreError):
            self.put(store, "outer")
        assert list(store.iter_uris()) == ["outer/inner"]

    # -- listing and deleting --------------------------------------------------------------

    def test_exists_delete_and_iter_uris(self, store: ArtifactStore) -> None:
        for uri in ["runs/r1/a", "runs/r1/b", "runs/r10/a", "models/m"]:
            self.put(store, uri)
        leftover = _write(store.new_staging_dir(), {"half": b"written"})
        assert leftover.is_dir()
        assert list(store.iter_uris()) == ["models/m", "runs/r1/a", "runs/r1/b", "runs/r10/a"]
        assert list(store.iter_uris("runs/r1")) == ["runs/r1/a", "runs/r1/b"]
        assert list(store.iter_uris("runs/r1/a")) == ["runs/r1/a"]
        assert list(store.iter_uris("missing")) == []
        store.delete("runs/r1/a")
        assert not store.exists("runs/r1/a")
        assert store.exists("runs/r1/b")
        assert list(store.iter_uris("runs")) == ["runs/r1/b", "runs/r10/a"]
        obj = self.put(store, "runs/r1/a", {"new": b"content"})  # the uri is free again
        with store.open_local("runs/r1/a", digest=obj.digest) as folder:
            assert (folder / "new").read_bytes() == b"content"

    def test_delete_then_publish_a_parent_uri(self, store: ArtifactStore) -> None:
        self.put(store, "p/q/r")
        store.delete("p/q/r")
        self.put(store, "p")
        assert list(store.iter_uris()) == ["p"]

    # -- concurrency -----------------------------------------------------------------------

    def test_concurrent_writers_to_different_uris(self, store: ArtifactStore) -> None:
        def write(i: int) -> StoredObject:
            return self.put(store, f"conc/{i}", {"v.txt": str(i).encode() * (i + 1)})

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(write, range(32)))
        assert sorted(store.iter_uris("conc")) == sorted(f"conc/{i}" for i in range(32))
        for i, obj in enumerate(results):
            with store.open_local(obj.uri, digest=obj.digest) as folder:
                assert (folder / "v.txt").read_bytes() == str(i).encode() * (i + 1)
