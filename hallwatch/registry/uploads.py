"""Registry files uploaded and waiting for their import to be confirmed.

The upload page shows what a file would change before anything is applied; the file
waits here, keyed by its SHA-256, until its uploader confirms it (in any web process:
they share the database, not memory). Files older than KEPT are dropped when another
is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.models import ID_LEN, TEXT_LEN, Base, UTCDateTime

KEPT = timedelta(days=1)
DIGEST_LEN = 64  # sha256, hex


class RegistryUploadRow(Base):
    """One uploaded file, by its digest and uploader."""

    __tablename__ = "registry_uploads"

    digest: Mapped[str] = mapped_column(String(DIGEST_LEN), primary_key=True)
    uploader: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    filename: Mapped[str] = mapped_column(String(TEXT_LEN))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Upload:
    digest: str
    filename: str
    text: str


def keep_upload(
    sessions: Callable[[], Session], uploader: str, filename: str, data: bytes, now: datetime
) -> str:
    """Keep `data` for `uploader` until confirmed; its digest."""
    digest = hashlib.sha256(data).hexdigest()
    with sessions() as session, session.begin():
        session.execute(delete(RegistryUploadRow).where(RegistryUploadRow.uploaded_at < now - KEPT))
        row = session.get(RegistryUploadRow, (digest, uploader))
        if row is None:
            row = RegistryUploadRow(digest=digest, uploader=uploader, body=data)
            session.add(row)
        row.filename, row.uploaded_at = filename[:TEXT_LEN], now
    return digest


def upload_of(sessions: Callable[[], Session], uploader: str, digest: str) -> Upload | None:
    """The file `uploader` uploaded with `digest`, None if there is none (or it was dropped)."""
    with sessions() as session:
        row = session.scalars(
            select(RegistryUploadRow).where(
                RegistryUploadRow.digest == digest, RegistryUploadRow.uploader == uploader
            )
        ).first()
        if row is None:
            return None
        return Upload(digest, row.filename, row.body.decode("utf-8-sig"))


def forget_upload(sessions: Callable[[], Session], uploader: str, digest: str) -> None:
    with sessions() as session, session.begin():
        session.execute(
            delete(RegistryUploadRow).where(
                RegistryUploadRow.digest == digest, RegistryUploadRow.uploader == uploader
            )
        )
