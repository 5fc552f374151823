"""Idempotency keys: a repeated request replays the first one's response."""

from __future__ import annotations

from datetime import datetime, timedelta

from nerava.domain.access import IdempotencyRecord, StoredResponse
from nerava.domain.errors import IdempotencyKeyReused, RequestInProgress
from nerava.ports.clock import Clock
from nerava.ports.storage import UnitOfWorkFactory

__all__ = ["CLAIM_LEASE", "RETENTION", "Idempotency"]

CLAIM_LEASE = timedelta(seconds=60)
RETENTION = timedelta(hours=24)


class Idempotency:
    """Claims keys before a request runs and releases them when it fails."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def begin(
        self, scope: str, key: str, fingerprint: str, now: datetime | None = None
    ) -> StoredResponse | None:
        """Claim ``key`` for a request, or say how an earlier one holds it.

        The claim lasts ``CLAIM_LEASE``, so a crash never strands a key.

        Returns:
            None when the request may run; the stored response to replay when
            the same request already completed.

        Raises:
            RequestInProgress: the first request still runs.
            IdempotencyKeyReused: the key came with another request.
        """
        at = now or self._clock.now()
        claim = IdempotencyRecord(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            created_at=at,
            locked_until=at + CLAIM_LEASE,
        )
        async with self._uow() as uow:
            held = await uow.idempotency.claim(
                claim, now=at, expired_before=at - RETENTION
            )
            await uow.commit()
        if held is None:
            return None
        if held.in_progress(at):
            raise RequestInProgress("a request with this idempotency key is running")
        if held.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was used with a different request"
            )
        return held.response

    async def release(self, scope: str, key: str) -> None:
        """Drop the claim of a request that failed, so that it may be sent again."""
        async with self._uow() as uow:
            await uow.idempotency.release(scope, key)
            await uow.commit()

    async def purge(self, *, limit: int) -> int:
        """Delete up to ``limit`` records older than the retention.

        Returns:
            How many were deleted; ``limit`` when more may be left.
        """
        async with self._uow() as uow:
            purged = await uow.idempotency.purge(
                self._clock.now() - RETENTION, limit=limit
            )
            await uow.commit()
        return purged
