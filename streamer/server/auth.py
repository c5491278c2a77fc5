"""Credentials: hashed at start-up, compared in constant time, with per-key concurrency limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .settings import Api, ServerSettings

OPEN_PRINCIPAL = "open"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _principal_of(digest: bytes) -> str:
    return digest.hex()[:12]


class OverLimit(Exception):
    """The principal already has its maximum of requests in flight."""


@dataclass(frozen=True, slots=True)
class Policy:
    """What a principal may do: which APIs, and how much audio per API per month."""

    apis: frozenset[Api]
    quota_s: float


_NOTHING = Policy(frozenset(), 0.0)


class Credentials:
    def __init__(self, settings: ServerSettings) -> None:
        self._open = settings.open
        self._keys = [_digest(k.key) for k in settings.api_keys]
        self._clients = {c.id: _digest(c.secret) for c in settings.pex_clients}
        default_s = settings.audio_quota_hours * 3600
        key_apis = frozenset(Api) - {Api.PEX}
        self._policies = {
            OPEN_PRINCIPAL: Policy(frozenset(Api), default_s),
            **{_principal_of(_digest(k.key)): Policy(frozenset(k.apis) if k.apis is not None else key_apis,
                                                     (k.audio_quota_hours or settings.audio_quota_hours) * 3600)
               for k in settings.api_keys},
            **{c.id: Policy(frozenset({Api.PEX}), (c.audio_quota_hours or settings.audio_quota_hours) * 3600) for c in settings.pex_clients},
        }  # fmt: skip
        self._tokens: dict[bytes, tuple[str, float]] = {}  # token digest → (client id, expiry)
        self._limit = settings.max_concurrent_per_key
        self._in_flight: Counter[str] = Counter()

    def api_key_principal(self, key: str | None) -> str | None:
        """The principal a key authenticates (a short hash, safe to log), or None."""
        if self._open:
            return OPEN_PRINCIPAL
        if not key:
            return None
        digest = _digest(key)
        # Compare against every key so timing does not reveal which one matched.
        matched = [hmac.compare_digest(digest, k) for k in self._keys]
        return _principal_of(digest) if any(matched) else None

    def policy(self, principal: str) -> Policy:
        """A principal no longer configured (a task's owner whose key was removed) may do nothing more."""
        return self._policies.get(principal, _NOTHING)

    def pex_client(self, client_id: str, secret: str) -> bool:
        expected = self._clients.get(client_id, _digest(secrets.token_hex(16)))
        return hmac.compare_digest(_digest(secret), expected) and client_id in self._clients

    def issue_token(self, client_id: str, ttl_s: int) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}  # forget expired ones
        self._tokens[_digest(token)] = (client_id, now + ttl_s)
        return token

    def token_principal(self, token: str | None) -> str | None:
        if self._open:
            return OPEN_PRINCIPAL
        entry = self._tokens.get(_digest(token)) if token else None
        return entry[0] if entry and entry[1] > time.time() else None

    @contextmanager
    def slot(self, principal: str) -> Iterator[None]:
        """Hold one of the principal's concurrent slots; raises :class:`OverLimit` when none is free."""
        if self._in_flight[principal] >= self._limit:
            raise OverLimit(principal)
        self._in_flight[principal] += 1
        try:
            yield
        finally:
            self._in_flight[principal] -= 1
