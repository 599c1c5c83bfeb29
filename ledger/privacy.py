"""Crypto-shredding: personal data in events is sealed with a key kept outside the event store."""

import base64
import json
import os
from collections.abc import Iterable
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyVault(Protocol):
    """Where the per-subject keys live; destroying a key makes its sealed data unreadable."""

    def keys_for(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        """The keys that still exist among `subjects`."""
        ...

    def store(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes]:
        """Keep new keys (an existing subject keeps its key); the key each subject now has."""
        ...

    def destroy(self, subjects: Iterable[UUID]) -> int:
        """Forget these keys for ever; returns how many existed."""
        ...


class MemoryKeyVault:
    """A vault for tests and notebooks."""

    def __init__(self) -> None:
        self._keys: dict[UUID, bytes] = {}

    def keys_for(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        return {s: self._keys[s] for s in subjects if s in self._keys}

    def store(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes]:
        return {subject: self._keys.setdefault(subject, key) for subject, key in keys.items()}

    def destroy(self, subjects: Iterable[UUID]) -> int:
        return sum(self._keys.pop(subject, None) is not None for subject in subjects)


# What json.dumps(data, sort_keys=True, separators=(",", ":")) writes, without making an
# encoder for every gift.
_SEALED_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, subject: UUID, data: dict[str, Any]) -> str:
    """AES-GCM with the subject as associated data, so a sealed blob cannot be moved elsewhere."""
    nonce = os.urandom(12)
    plain = _SEALED_JSON.encode(data).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, subject.bytes)
    return base64.b64encode(sealed).decode("ascii")


def unseal(key: bytes | None, subject: UUID, token: str) -> dict[str, Any] | None:
    """The sealed data, or None once its key has been destroyed."""
    if key is None:
        return None
    raw = base64.b64decode(token)
    plain = AESGCM(key).decrypt(raw[:12], raw[12:], subject.bytes)
    result: dict[str, Any] = json.loads(plain)
    return result
