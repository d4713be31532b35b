"""What one consumer batch changes, gathered by the handlers and written at once before the commit.

Purchases, refunds, interactions and feedback are only noted; at the end of the batch (or before a
merge, which must see them in the tables) they are written with one statement each, and every
customer the batch touched is re-scored once, set-based (cards.rescore_many). Customers are
followed to their survivor when written, so a merge earlier in the batch is honoured.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import insert_new_rows
from services.scoring import facts
from services.scoring.cards import Rescore, rescore_many
from services.scoring.context import ScoringContext
from services.scoring.models import purchase_lines


class ScoringBatch:
    def __init__(self, session: AsyncSession, context: ScoringContext):
        self.session = session
        self.context = context
        self.lines: list[dict] = []  # purchase and refund lines, under the customer the event names
        self.contacts: dict[str, facts.Contacts] = {}
        self.wanted: dict[str, Rescore] = {}
        self.created: dict[str, datetime] = {}  # customers new to the batch, with when they were created

    def customer_created(self, customer_id: str, created_at: datetime) -> None:
        self.created.setdefault(customer_id, created_at)

    def add_line(self, line: dict) -> None:
        self.lines.append(line)

    def interaction(self, customer_id: str, occurred_at: datetime) -> None:
        self.contacts.setdefault(customer_id, facts.Contacts()).interaction(occurred_at)

    def feedback(self, customer_id: str, *, negative: bool) -> None:
        self.contacts.setdefault(customer_id, facts.Contacts()).feedback(negative=negative)

    def rescore(self, customer_id: str, reason: str, *, backfill: bool) -> None:
        self.wanted[customer_id] = Rescore(reason, backfill).after(self.wanted.get(customer_id))

    async def flush(self) -> None:
        """Writes the facts noted so far under each customer's survivor."""
        await facts.know_created(self.session, self.created)
        self.created = {}
        named = {line["customer_id"] for line in self.lines} | set(self.contacts)
        if not named:
            return
        survivor = await facts.survivors_of(self.session, named)
        await facts.know_customers(self.session, survivor.values())
        await insert_new_rows(self.session, purchase_lines,
                              [line | {"customer_id": survivor[line["customer_id"]]} for line in self.lines])
        contacts: dict[str, facts.Contacts] = {}
        for customer_id, noted in self.contacts.items():
            contacts.setdefault(survivor[customer_id], facts.Contacts()).add(noted)
        await facts.add_contacts(self.session, contacts)
        self.lines, self.contacts = [], {}

    async def finish(self) -> None:
        await self.flush()
        if not self.wanted:
            return
        survivor = await facts.survivors_of(self.session, self.wanted)
        await facts.know_customers(self.session, survivor.values())
        wanted: dict[str, Rescore] = {}
        for customer_id, why in self.wanted.items():  # a duplicate and its survivor in one batch: one card
            wanted[survivor[customer_id]] = why.after(wanted.get(survivor[customer_id]))
        await rescore_many(self.session, self.context, wanted)
        self.wanted = {}
