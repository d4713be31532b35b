"""Re-encrypts stored personal data with the newest key, after a key was put first in the list."""

import sqlalchemy as sa

from services.common.database import Database
from services.common.privacy import FieldCipher
from services.profiles.models import Customer, Interaction

CHUNK = 500
ENCRYPTED_COLUMNS = {Customer: ("name_enc", "email_enc", "phone_enc", "address_enc"), Interaction: ("note_enc",)}


async def reencrypt_personal_data(database: Database, cipher: FieldCipher) -> int:
    """Rewrites every encrypted field in chunks of short transactions; returns the rows rewritten.
    Safe while the service runs: a row is read and rewritten in one transaction."""
    rewritten = 0
    for model, columns in ENCRYPTED_COLUMNS.items():
        last_id = ""
        while True:
            async with database.transaction() as session:
                rows = (await session.execute(
                    sa.select(model.id, *(getattr(model, column) for column in columns))
                    .where(model.id > last_id).order_by(model.id).limit(CHUNK).with_for_update()
                )).all()
                for row in rows:
                    values = {column: cipher.rotate(getattr(row, column)) for column in columns}
                    await session.execute(sa.update(model).where(model.id == row.id).values(**values))
            if not rows:
                break
            rewritten += len(rows)
            last_id = rows[-1].id
    return rewritten
