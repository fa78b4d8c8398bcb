"""Residency's writes: refusing a request for another region's user or token, and an operator's look-up.

The rules (which region a handle, id or token names) are in `governance.regions`; this module writes the
`residency.refused` and `access.personal_data` audit entries those decisions call for.
"""

from __future__ import annotations

import logging
from typing import Any

from sovereel.actions.refusals import record_unauthenticated
from sovereel.governance.audit import append_audit, pseudonym
from sovereel.governance.regions import ForeignRegion, account_region, foreign_handle, foreign_region, token_region
from sovereel.queries.accounts import user_by_name_or_id, user_origin_region
from sovereel.queries.videos import user_view
from sovereel.settings import Settings
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)


def do_refuse(region: str, db: RegionDB, *, what: str, requested_region: str, reason: str) -> ForeignRegion:
    """Record a residency refusal in the audit log (its own transaction) and return the 403 to raise."""
    log.warning("residency: refused %s for region %s (%s)", what, requested_region, reason)
    with db.transaction() as s:
        append_audit(
            s,
            region=region,
            kind="residency.refused",
            actor_id=None,
            subject=f"region:{requested_region}"[:200],
            detail={"what": what, "home_region": region, "requested_region": requested_region, "reason": reason},
        )
    return foreign_region(region, requested_region)


def check_username(settings: Settings, db: RegionDB, username: str, *, signed_in: bool = False) -> None:
    """Refuse (403) a request naming another region's user: a `name@region` handle, the handle or id of a
    creator stub, or an id that is no account here and carries another region's tag. Audited one by one when
    the request is authenticated (`signed_in`: a user of this region, an operator); otherwise counted only."""
    handle = foreign_handle(username)
    region = handle[1] if handle else None
    if region is not None and region not in settings.regions:
        region = None  # not a region of this deployment: an unknown user (404), not a refusal to audit
    what, reason = "user", "user of another region"
    if region is None:
        found, origin = user_origin_region(db, username)
        region = origin if found else account_region(settings, username)
        if not found and region:
            what, reason = "user id", "account id of another region"
    if region and region != settings.region:
        if not signed_in:
            record_unauthenticated(db, "foreign_user", region=region, known_regions=settings.regions)
            raise foreign_region(settings.region, region)
        raise do_refuse(settings.region, db, what=what, requested_region=region, reason=reason)


def do_show_user(db: RegionDB, *, audit_secret: str, who: str, reason: str) -> dict[str, Any] | None:
    """An operator's look-up of one account (username or id), audited as `access.personal_data` in the same
    transaction; None when there is no such account."""
    with db.transaction() as s:
        user = user_by_name_or_id(s, who)
        if user is None:
            return None
        append_audit(
            s,
            region=db.region,
            kind="access.personal_data",
            actor_id=None,
            subject=f"user:{pseudonym(audit_secret, user.id)}",
            detail={"what": "profile", "reason": reason},
        )
        return {**user_view(user), "created_at": user.created_at}


def check_token(settings: Settings, db: RegionDB, token: str) -> None:
    """Refuse (403, counted) a session token naming another region of the deployment.

    Not audited one by one: this region cannot tell another region's real token from a forged one, so the
    request is unauthenticated. A token naming no region of the deployment is left to fail as invalid (401).
    """
    region = token_region(token)
    if region is None or region == settings.region or region not in settings.regions:
        return
    record_unauthenticated(db, "foreign_token", region=region, known_regions=settings.regions)
    raise foreign_region(settings.region, region)
