"""Governance: the audit log and its checkpoints, export licences, data rights, exchange transfers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


class AuditEntry(Base):
    """One entry of the region's append-only audit log (fields: sovereel.governance.audit)."""

    __tablename__ = "audit_entries"
    idx: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[float] = mapped_column(Float)
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row appends lock to get gap-free indexes: the log's size and last leaf hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_leaf: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head: the log's size and Merkle root, signed with the region's Ed25519 key."""

    __tablename__ = "audit_checkpoints"
    size: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    root: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class ExportLicence(Base):
    """A recorded licence for one model version to leave `source_region` for `dest_region`."""

    __tablename__ = "export_licences"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64))
    source_region: Mapped[str] = mapped_column(String(32))
    dest_region: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[float] = mapped_column(Float)
    audit_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class DataExport(Base):
    """A "Download my data" job: built in the background, fetched through a signed, expiring link."""

    __tablename__ = "data_exports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | ready | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    step: Mapped[str] = mapped_column(String(64), default="")
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Erasure(Base):
    """An erased account, by pseudonymous hash only; the trainer consults these before every training run."""

    __tablename__ = "erasures"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[float] = mapped_column(Float)
    events_from: Mapped[float | None] = mapped_column(Float, nullable=True)
    events_to: Mapped[float | None] = mapped_column(Float, nullable=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    models_affected: Mapped[list[Any]] = mapped_column(JSON, default=list)  # versions trained on their events


class ExchangeTransfer(Base):
    """One public video carried by the content exchange: in (pulled from a peer) or out (offered to one)."""

    __tablename__ = "exchange_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(16))  # in | out | withdrawn
    peer_region: Mapped[str] = mapped_column(String(32))
    video_id: Mapped[str] = mapped_column(String(32), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[float] = mapped_column(Float)
