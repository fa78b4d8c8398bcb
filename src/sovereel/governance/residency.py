"""Residency you can prove: scan a region's store for personal data that belongs to another region.

`user_columns()` finds every column that names a user (a foreign key to users.id, or a column called like
one), from the models, so a table added later is scanned without anyone remembering to add it. A scan
reports, per table, the rows it looked at and every violation:

- an account of another region (a users row whose region is not this one and that is not a creator stub);
- a creator stub that holds more than a public handle (a password, a bio, an avatar);
- a row in any user column that names a user of another region (given their ids), or names a creator
  stub anywhere but `videos.creator_id` (exchanged public content is the only thing stubs may own);
- an event whose region column is another region; a JSON payload (outbox, impressions) naming a
  foreign user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Column, Table, Text, cast, func, select
from sqlalchemy.orm import Session

from sovereel.storage.models import Base, User

USER_COLUMN_NAMES = frozenset(
    {"user_id", "creator_id", "follower_id", "followee_id", "reporter_id", "subject_user_id", "moderator_id"}
)
STUB_MAY_OWN = {("videos", "creator_id")}


@dataclass
class Violation:
    """One row of personal data that should not be in this region's store."""

    table: str
    column: str
    value: str
    why: str


@dataclass
class ResidencyReport:
    """The result of scanning one region's store."""

    region: str
    rows_scanned: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """A readable account of the scan (one line per table, then any violations)."""
        lines = [f"region {self.region}: {'OK' if self.ok else 'VIOLATIONS'}"]
        lines += [f"  {t}: {n} rows scanned" for t, n in sorted(self.rows_scanned.items())]
        lines += [f"  ! {v.table}.{v.column} = {v.value}: {v.why}" for v in self.violations[:50]]
        return "\n".join(lines)


def user_columns(tables: Iterable[Table] | None = None) -> list[tuple[str, str]]:
    """(table, column) for every column of the schema that holds a user id."""
    out = []
    for table in tables if tables is not None else Base.metadata.sorted_tables:
        for col in table.columns:
            refers = any(fk.column.table.name == "users" and fk.column.name == "id" for fk in col.foreign_keys)
            if refers or col.name in USER_COLUMN_NAMES:
                out.append((table.name, col.name))
    return out


def _json_columns() -> list[tuple[Table, Column[Any]]]:
    return [(t, c) for t in Base.metadata.sorted_tables for c in t.columns if isinstance(c.type, JSON)]


def scan_store(s: Session, region: str, foreign_user_ids: Iterable[str] = ()) -> ResidencyReport:
    """Scan one region's store; `foreign_user_ids` are other regions' account ids to look for everywhere."""
    report = ResidencyReport(region=region)
    foreign = set(foreign_user_ids)
    users = {uid: (r, origin) for uid, r, origin in s.execute(select(User.id, User.region, User.origin_region))}
    stubs = {uid for uid, (_r, origin) in users.items() if origin}
    report.rows_scanned["users"] = len(users)
    for uid, (r, origin) in users.items():
        if uid in foreign:
            report.violations.append(Violation("users", "id", uid, "an account of another region"))
        elif r != region and not origin:
            report.violations.append(Violation("users", "region", uid, f"an account of region {r}"))
    stub_rows = s.execute(
        select(User.id, User.password_hash, User.bio, User.avatar_key).where(User.origin_region.is_not(None))
    )
    for uid, pw, bio, avatar in stub_rows:
        if pw or bio or avatar:
            report.violations.append(Violation("users", "id", uid, "a creator stub holding more than a handle"))
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    for tname, cname in user_columns():
        if tname == "users":
            continue
        col = tables[tname].c[cname]
        n = s.scalar(select(func.count()).select_from(tables[tname])) or 0
        report.rows_scanned[tname] = int(n)
        for (value,) in s.execute(select(col).where(col.is_not(None)).distinct()):
            value = str(value)
            if value in foreign:
                report.violations.append(Violation(tname, cname, value, "names a user of another region"))
            elif value in stubs and (tname, cname) not in STUB_MAY_OWN:
                report.violations.append(Violation(tname, cname, value, "personal data about another region's creator"))
            elif value in users and users[value][0] != region and value not in stubs:
                report.violations.append(Violation(tname, cname, value, f"names an account of {users[value][0]}"))
    events = tables["events"]
    for (r,) in s.execute(select(events.c.region).distinct()):
        if r != region:
            report.violations.append(Violation("events", "region", str(r), "events of another region"))
    if foreign:
        for table, col in _json_columns():
            for (text,) in s.execute(select(cast(col, Text))):
                hits = [u for u in foreign if text and u in text]
                for uid in hits:
                    report.violations.append(Violation(table.name, col.name, uid, "a payload naming a foreign user"))
    return report


def account_ids(s: Session) -> set[str]:
    """The ids of this region's own accounts (not creator stubs)."""
    return set(s.scalars(select(User.id).where(User.origin_region.is_(None))))
