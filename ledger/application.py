"""LedgerApplication: the application services composed over one event store and key vault."""

from datetime import date
from typing import Any
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from ledger.errors import ChangedMeanwhileError, InvalidInputError
from ledger.online_payments import OnlinePayments
from ledger.privacy import KeyVault, MemoryKeyVault
from ledger.registry import Registry
from ledger.set_asides import SetAsides
from ledger.stands import Stands
from ledger.texts import N_
from ledger.users import UserInfo, Users

__all__ = ["LedgerApplication", "UserInfo", "store_env"]


class DateAsISO(Transcoding):
    type = date
    name = "date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def store_env(database_url: str, create_table: bool = True) -> dict[str, str]:
    """The eventsourcing environment for `sqlite:///path` or `postgresql://user@host:port/db`."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy writes them.
        path = unquote(url.path)[1:]
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path or ":memory:",
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    if url.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            # eventsourcing insists on a password even where the server trusts local users.
            "POSTGRES_PASSWORD": unquote(url.password or "trust"),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "5",
            "POSTGRES_LOCK_TIMEOUT": "30",
            # No pre-ping: when the server cuts every connection (restart, pg_terminate_backend)
            # the pool's check waits 1, 2, 4, 8… s per dead connection it meets, ~30 s for a
            # pool of five; the recorder's own retry (10 tries, 0.2 s apart) drops one dead
            # connection per try and recovers in about a second.
            "POSTGRES_PRE_PING": "n",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    raise InvalidInputError(
        f"LEDGER_DATABASE_URL must be sqlite:///path or postgresql://user@host:port/db, "
        f"not {database_url!r}"
    )


# Gifts (with Campaigns beneath them) come in through the online payments and the stands.
class LedgerApplication(OnlinePayments, Stands, Registry, Users, SetAsides):
    """One per process. Commands read load → call → save; ids are natural keys."""

    name = "Ledger"

    def __init__(self, env: dict[str, str] | None = None, vault: KeyVault | None = None) -> None:
        super().__init__(env=env)
        self.vault: KeyVault = vault if vault is not None else MemoryKeyVault()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save, turning a lost race into a conflict the user can retry."""
        try:
            return super().save(*objs, **kwargs)
        except ChangedMeanwhileError:
            raise
        except IntegrityError as error:
            raise ChangedMeanwhileError(
                N_("changed meanwhile by another request; try again")
            ) from error
