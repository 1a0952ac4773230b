"""Helpers shared by the capability commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from addon.models import Tenant


def tenant_by_id(tenant_id: int) -> Tenant:
    """The tenant a ``--tenant ID`` option names, or a clear command-line error."""
    from addon.extensions import get_db
    from addon.models import Tenant

    tenant = get_db().session.get(Tenant, tenant_id)
    if tenant is None:
        raise click.ClickException(f"no tenant with id {tenant_id}")
    return tenant
