"""Django's Redis cache with one redis-py client per connection pool instead of one per
call: redis-py 8 builds ~170 response callbacks in every client's constructor, which was a
third of an API request's fixed cost (each request reads its cached token and updates the
throttle: three cache calls). A client is thread-safe and takes its connections from the
pool, which redis-py itself makes fork-safe."""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
