"""Rate limits shared by every process, kept in Django's cache (``CACHES["default"]``).

A **sliding-window counter**: each bucket (an API token, a client address) has
one integer counter per fixed window of ``window`` seconds, kept in the cache
under ``rl:<bucket>:<window index>``. A request is allowed when

    previous window's count x (share of the previous window still inside the
    sliding window) + this window's count  <=  limit

so at most about ``limit`` requests fit in any ``window`` seconds — without the
double burst a plain fixed window allows across its boundary. Counting is
``cache.incr(key)`` (``cache.add(key, 1)`` for a window's first request); a
refused request is taken back with ``cache.decr``, so a client that keeps
retrying is not locked out for longer than the ``Retry-After`` it was told.

Atomicity, which is what makes the limit hold across gunicorn workers:

- **Redis** (``CACHE_URL=redis://…``): ``add`` is ``SET NX`` and ``incr`` is
  ``INCRBY``, both atomic on the server. (Django's ``incr`` checks ``EXISTS``
  first; a counter is only incremented during its own window and lives a whole
  window longer, so it cannot expire between the two.)
- **FileBasedCache** (the embedded default): its ``incr`` is a read then a
  write, not atomic. Here every update is made under an exclusive ``flock`` on
  a lock file in the cache folder, which serialises the processes of one
  machine — the only setup a file cache serves.
- Other backends: ``LocMemCache`` is atomic but per process (each worker has its
  own limit); ``DatabaseCache`` reads then writes, so concurrent requests may
  slip a few past the limit.

The cache is a guard, not a record: when it fails (Redis down, disk full) the
request is allowed and the failure logged, so reporting to Sendwatch does not
stop with its cache. ``clock`` is the time source; tests replace it.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.filebased import FileBasedCache

logger = logging.getLogger(__name__)

CACHE_ALIAS = "default"
LOCK_NAME = "sendwatch-ratelimit.lock"  # FileBasedCache only touches *.djcache files, so it is left alone
clock = time.time


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds to wait (>= 1) when not allowed


ALLOWED = Decision(True)


@dataclass(frozen=True)
class _Window:
    bucket: str
    length: float
    now: float

    @property
    def index(self) -> int:
        return math.floor(self.now / self.length)

    @property
    def elapsed(self) -> float:
        return self.now - self.index * self.length

    @property
    def weight(self) -> float:
        """The share of the previous window still inside the sliding window."""
        return 1.0 - self.elapsed / self.length

    @property
    def current_key(self) -> str:
        return f"rl:{self.bucket}:{self.index}"

    @property
    def previous_key(self) -> str:
        return f"rl:{self.bucket}:{self.index - 1}"

    @property
    def ttl(self) -> int:
        # Read as "previous" during the next window, then no more.
        return math.ceil(2 * self.length) + 1


def hit(bucket: str, limit: int, window: float, *, now: float | None = None) -> Decision:
    """Count one request against ``limit`` per ``window`` seconds; a refused one is not counted."""
    if limit <= 0 or window <= 0:
        return ALLOWED
    w = _Window(bucket, window, clock() if now is None else now)
    cache = caches[CACHE_ALIAS]
    try:
        with _serialised(cache):
            current = _increment(cache, w.current_key, w.ttl)
            previous = int(cache.get(w.previous_key, 0))
            if previous * w.weight + current <= limit:
                return ALLOWED
            cache.decr(w.current_key)
    except Exception:
        logger.exception("rate limit %s: the cache failed; the request is allowed", bucket.split(":", 1)[0])
        return ALLOWED
    return Decision(False, _retry_after(previous, current - 1, w, limit))


def peek(bucket: str, limit: int, window: float, *, now: float | None = None) -> Decision:
    """Whether one more event would fit, without counting it."""
    if limit <= 0 or window <= 0:
        return ALLOWED
    w = _Window(bucket, window, clock() if now is None else now)
    try:
        counts = caches[CACHE_ALIAS].get_many([w.previous_key, w.current_key])
    except Exception:
        logger.exception("rate limit %s: the cache failed; the request is allowed", bucket.split(":", 1)[0])
        return ALLOWED
    previous, current = int(counts.get(w.previous_key, 0)), int(counts.get(w.current_key, 0))
    if previous * w.weight + current + 1 <= limit:
        return ALLOWED
    return Decision(False, _retry_after(previous, current, w, limit))


def count(bucket: str, window: float, *, now: float | None = None) -> None:
    """Count one event (a failed attempt, say) with no limit of its own; :func:`peek` reads it."""
    if window <= 0:
        return
    w = _Window(bucket, window, clock() if now is None else now)
    cache = caches[CACHE_ALIAS]
    try:
        with _serialised(cache):
            _increment(cache, w.current_key, w.ttl)
    except Exception:
        logger.exception("rate limit %s: the cache failed; the event is not counted", bucket.split(":", 1)[0])


def _increment(cache: BaseCache, key: str, ttl: int) -> int:
    # incr first: the counter exists for all but the window's first request (one call fewer then).
    try:
        return cache.incr(key)
    except ValueError:
        pass
    if cache.add(key, 1, ttl):
        return 1
    return cache.incr(key)  # another process added it in between


def _retry_after(previous: int, current: int, w: _Window, limit: int) -> int:
    """Whole seconds until one more request fits, with ``current`` counted in this window so far."""
    if current + 1 <= limit:
        # The previous window's share has to shrink: previous x (1 - (elapsed + t) / length) <= limit - current - 1.
        wait = w.length * (1 - (limit - current - 1) / previous) - w.elapsed if previous else 0.0
    else:
        # This window is full: wait for the next, where this one's count is the shrinking share.
        wait = (w.length - w.elapsed) + max(0.0, w.length * (1 - (limit - 1) / current))
    return max(1, math.ceil(wait - 1e-9))


@contextmanager
def _serialised(cache: BaseCache) -> Iterator[None]:
    """An exclusive lock across processes for caches whose incr is not atomic (the file cache)."""
    if not isinstance(cache, FileBasedCache):
        yield
        return
    folder = os.path.abspath(settings.CACHES[CACHE_ALIAS]["LOCATION"])
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
