"""RedisOnlineStore against the shared online store contract (the machine's real Redis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mloop._utils.ids import new_id
from mloop.features.online_stores.redis import RedisOnlineStore
from mloop.testing.online_store_contracts import OnlineStoreContract

pytestmark = pytest.mark.integration


class TestRedisOnlineStore(OnlineStoreContract):
    __test__ = True
    backend = ("online_stores", "redis")

    @pytest.fixture
    def store(self, redis_url: str) -> Iterator[RedisOnlineStore]:
        s = RedisOnlineStore(redis_url, namespace=f"test-{new_id()}")
        yield s
        for view in ("v", "v1", "v2", "w", "other", "nulls"):
            s.delete_view(view)
        s.close()
