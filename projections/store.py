"""Opens the ledger on one database: the event store, the key vault and the read models."""

import contextlib
from dataclasses import dataclass
from typing import Any

from ledger.application import LedgerApplication, store_env
from projections.agenzia import Oppositions
from projections.audit import AuditTrail
from projections.database import Database
from projections.fundraising import Expenses
from projections.outbox import Outbox
from projections.receipts import ReceiptsView
from projections.registry import Registry
from projections.runner import Projection, ProjectionRunner
from projections.stands import Stands
from projections.totals import CampaignTotals
from vault.inbox import Inbox
from vault.keys import SQLKeyVault


def read_models() -> list[Projection]:
    """A fresh instance of every read model, in the order they are caught up."""
    return [
        CampaignTotals(),
        Registry(),
        Stands(),
        AuditTrail(),
        ReceiptsView(),
        Oppositions(),
        Expenses(),
        Outbox(),
    ]


@dataclass
class LedgerStore:
    """Everything one process needs; build it once per process with `LedgerStore.open(url)`."""

    app: LedgerApplication
    database: Database
    runner: ProjectionRunner
    inbox: Inbox

    @classmethod
    def open(cls, url: str, create_tables: bool = True) -> "LedgerStore":
        env = store_env(url, create_table=create_tables)  # refuses an unusable URL first
        database = Database(url)
        opened: list[Any] = [database]
        try:
            with database.schema_lock():
                app = LedgerApplication(env=env, vault=SQLKeyVault(database))
                opened.append(app)
                runner = ProjectionRunner(app, database, read_models())
                inbox = Inbox(database)
                opened.append(inbox)
                if create_tables:
                    runner.setup()
                    inbox.create_tables()
        except BaseException:
            # Nothing half-open is left behind (a caller may try again in a moment).
            for part in reversed(opened):
                with contextlib.suppress(Exception):
                    part.close()
            raise
        return cls(app, database, runner, inbox)

    def close(self) -> None:
        self.app.close()
        self.inbox.close()
        self.database.close()
