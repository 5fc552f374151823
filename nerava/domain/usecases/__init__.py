"""The use cases: the API other services import, over the ports."""

from nerava.domain.usecases.catalog import Catalog
from nerava.domain.usecases.charging import Charging
from nerava.domain.usecases.commands import (
    Actor,
    IdempotentWrite,
    MeterReading,
    Posted,
    SessionView,
    StartCharge,
    StopCharge,
    StopOutcome,
)
from nerava.domain.usecases.credits import Credits
from nerava.domain.usecases.idempotency import Idempotency
from nerava.domain.usecases.keys import Keys, digest_of
from nerava.domain.usecases.relay import Relay
from nerava.domain.usecases.wallets import Wallets

__all__ = [
    "Actor",
    "Catalog",
    "Charging",
    "Credits",
    "Idempotency",
    "IdempotentWrite",
    "Keys",
    "MeterReading",
    "Posted",
    "Relay",
    "SessionView",
    "StartCharge",
    "StopCharge",
    "StopOutcome",
    "Wallets",
    "digest_of",
]
