"""``RedisOnlineStore``: one Redis hash per (view, entity key), fields = features + ``_ts``.

A read is one HMGET per entity (pipelined for several; ``read_views`` pipelines every view of a
request, so a read is one round trip). Writes go through a Lua script that
writes a chunk of rows and skips each row older than the stored one; each chunk is one atomic
script call, and the watermark is set in the last chunk's MULTI/EXEC, so it never claims rows
that are not stored. Values are JSON-encoded. Needs the ``redis`` extra
(``pip install mloop[redis]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel

from mloop.errors import ConfigError, OnlineStoreUnavailableError
from mloop.features.online_stores.base import OnlineRows, OnlineStore, StoredRow

_WRITE_IF_NEWER = """
local n = tonumber(ARGV[1])
local pos = n + 2
local written = 0
for _, key in ipairs(KEYS) do
  local ts = ARGV[pos]
  local cur = redis.call('HGET', key, '_ts')
  if (not cur) or tonumber(cur) <= tonumber(ts) then
    local args = {'_ts', ts}
    for j = 1, n do
      args[2 * j + 1] = ARGV[1 + j]
      args[2 * j + 2] = ARGV[pos + j]
    end
    redis.call('HSET', key, unpack(args))
    written = written + 1
  end
  pos = pos + n + 1
end
return written
"""
_CHUNK = 1000  # rows per script call (one MULTI/EXEC)
_GLOB = re.compile(r"([\\*?\[\]])")


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis SCAN MATCH pattern."""
    return _GLOB.sub(r"\\\1", text)


def _decode(replies: Sequence[Sequence[Any]]) -> list[StoredRow | None]:
    """HMGET replies (features..., ``_ts``) as stored rows; no ``_ts``: the key is not stored."""
    loads = orjson.loads
    out: list[StoredRow | None] = []
    for reply in replies:
        ts = reply[-1]
        if ts is None:
            out.append(None)
        else:
            out.append(([None if v is None else loads(v) for v in reply[:-1]], float(ts)))
    return out


class RedisOnlineStoreConfig(BaseModel):
    """``namespace`` prefixes every key; by default it is ``mloop:<project>``, so projects
    sharing one Redis never read each other's values (Feast scopes keys by project too).
    ``project`` is filled in by the feature store (``project:`` in mloop.yaml, else the project
    folder's name). Set ``namespace`` to share keys on purpose (``mloop`` is the layout of
    mloop before projects were scoped)."""

    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    namespace: str | None = None
    project: str | None = None


def project_namespace(project: str) -> str:
    """The default key prefix of a project (':' is escaped: views and keys follow it)."""
    return "mloop:" + project.replace("%", "%25").replace(":", "%3A")


class RedisOnlineStore(OnlineStore):
    """Online store in Redis at ``url``; keys are ``<namespace>:<view>:<entity key>``."""

    name: ClassVar[str] = "redis"
    Config: ClassVar[type[BaseModel]] = RedisOnlineStoreConfig

    def __init__(self, url: str, namespace: str = "mloop") -> None:
        self.url = url
        self.namespace = namespace
        self._client: Any = None
        self._script: Any = None

    @classmethod
    def from_config(cls, config: RedisOnlineStoreConfig, base_dir: Any = None) -> RedisOnlineStore:
        """The store of ``config``; without a namespace, the project's (see the config)."""
        namespace = config.namespace
        if namespace is None:
            project = config.project or (Path(base_dir).resolve().name if base_dir else None)
            namespace = project_namespace(project or "default")
        return cls(config.url, namespace)

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import redis
            except ImportError as exc:
                raise ConfigError(
                    "the redis online store needs the redis package: pip install 'mloop[redis]'"
                ) from exc
            self._client = redis.Redis.from_url(
                self.url, socket_connect_timeout=2.0, socket_timeout=10.0
            )
            self._script = self._client.register_script(_WRITE_IF_NEWER)
        return self._client

    def _key(self, view: str, entity_key: str) -> str:
        return f"{self.namespace}:{view}:{entity_key}"

    def _unavailable(self, exc: BaseException) -> OnlineStoreUnavailableError:
        return OnlineStoreUnavailableError(
            f"the Redis online store at {self.url} is unreachable or failed ({exc}); start Redis "
            "or fix online_store.url in mloop.yaml"
        )

    def _errors(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def write_batch(self, view: str, rows: OnlineRows, *, watermark: float | None = None) -> int:
        client = self.client
        names = list(rows.feature_names)
        encoded = rows.json_fields()
        keys = [self._key(view, k) for k in rows.entity_keys]
        n = len(rows)
        try:
            for start in range(0, max(n, 1), _CHUNK):
                stop = min(start + _CHUNK, n)
                args: list[Any] = [len(names), *names]
                for i in range(start, stop):
                    args.append(repr(float(rows.event_ts[i])))
                    args.extend(encoded[i])
                pipe = client.pipeline(transaction=True)
                if stop > start:
                    self._script(keys=keys[start:stop], args=args, client=pipe)
                if watermark is not None and stop >= n:
                    pipe.set(self._key("__watermark__", view), repr(float(watermark)))
                pipe.execute()
        except self._errors() as exc:
            raise self._unavailable(exc) from exc
        return n

    def read(
        self, view: str, entity_keys: Sequence[str], features: Sequence[str]
    ) -> list[StoredRow | None]:
        client = self.client
        fields = [*map(str.encode, features), b"_ts"]
        try:
            if len(entity_keys) == 1:
                replies = [client.hmget(self._key(view, entity_keys[0]), fields)]
            else:
                pipe = client.pipeline(transaction=False)
                for key in entity_keys:
                    pipe.hmget(self._key(view, key), fields)
                replies = pipe.execute()
        except self._errors() as exc:
            raise self._unavailable(exc) from exc
        return _decode(replies)

    def read_views(
        self, requests: Sequence[tuple[str, Sequence[str], Sequence[str]]]
    ) -> list[list[StoredRow | None]]:
        """Every view's HMGETs in one pipeline: one round trip however many views."""
        client = self.client
        try:
            pipe = client.pipeline(transaction=False)
            for view, keys, features in requests:
                fields = [*map(str.encode, features), b"_ts"]
                for key in keys:
                    pipe.hmget(self._key(view, key), fields)
            replies = pipe.execute()
        except self._errors() as exc:
            raise self._unavailable(exc) from exc
        out, start = [], 0
        for _, keys, _ in requests:
            out.append(_decode(replies[start : start + len(keys)]))
            start += len(keys)
        return out

    def get_watermark(self, view: str) -> float | None:
        try:
            value = self.client.get(self._key("__watermark__", view))
        except self._errors() as exc:
            raise self._unavailable(exc) from exc
        return None if value is None else float(value)

    def delete_view(self, view: str) -> None:
        try:
            client = self.client
            batch = []
            pattern = _glob_escape(self._key(view, "")) + "*"
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
            client.delete(self._key("__watermark__", view))
        except self._errors() as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.url!r}, namespace={self.namespace!r})"
