"""API keys: created random, shown once, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from nerava.domain.access import ApiKey, Scope
from nerava.domain.errors import ValidationFailed
from nerava.domain.validation import require_hub_id, require_text
from nerava.ports.clock import Clock, IdGenerator
from nerava.ports.storage import UnitOfWorkFactory

__all__ = ["KEY_PREFIX", "Keys", "digest_of"]

KEY_PREFIX = "nrv_"


def digest_of(secret: str) -> str:
    """Return the SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Keys:
    """The API-key use cases."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def create(
        self, scopes: Sequence[Scope], hub_ids: Sequence[str] = (), name: str = ""
    ) -> tuple[ApiKey, str]:
        """Create a key; return it as stored and the secret, which is shown once."""
        if not scopes:
            raise ValidationFailed.on("scope", "at least one scope is needed")
        for hub_id in hub_ids:
            require_hub_id(hub_id, "hub")
        if name:
            require_text(name, "name", 128)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id=self._ids.new_id("key"),
            name=name,
            digest=digest_of(secret),
            scopes=tuple(dict.fromkeys(Scope(s) for s in scopes)),
            hub_ids=tuple(dict.fromkeys(hub_ids)),
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.api_keys.add(key)
            await uow.commit()
        return key, secret

    async def list(self) -> list[ApiKey]:
        """Return every key, oldest first."""
        async with self._uow(readonly=True) as uow:
            return await uow.api_keys.list()

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such key."""
        async with self._uow() as uow:
            found = await uow.api_keys.revoke(key_id, self._clock.now())
            await uow.commit()
        return found

    async def authenticate(self, secret: str) -> ApiKey | None:
        """Return the live key for ``secret``; None when unknown or revoked."""
        if not secret or len(secret) > 512:
            return None
        async with self._uow(readonly=True) as uow:
            key = await uow.api_keys.by_digest(digest_of(secret))
        if key is None or key.revoked_at is not None:
            return None
        return key

    async def has_admin(self) -> bool:
        """Whether a live admin key exists."""
        return any(
            Scope.ADMIN in k.scopes and k.revoked_at is None for k in await self.list()
        )
