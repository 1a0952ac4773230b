"""Who is signed in, and which tenants they may see or administer (tenant isolation for views)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select

from addon.extensions import get_db
from addon.models import Membership, Role, Tenant, User


def current_user() -> User | None:
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = get_db().session.get(User, user_id) if user_id else None
    return g.user  # type: ignore[no-any-return]


def sign_in_user(user: User) -> None:
    session.clear()  # new session id on sign-in (session fixation)
    session["user_id"] = user.id
    session.permanent = True


def membership(user: User, tenant_id: int) -> Membership | None:
    return get_db().session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                            Membership.tenant_id == tenant_id))


def tenant_view(role: Role = Role.VIEWER) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for ``/tenants/<int:tenant_id>/...`` views: signed in, member, and role if admin."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(tenant_id: int, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.sign_in", next=request.full_path))
            member = membership(user, tenant_id)
            if member is None:
                abort(404)  # not 403: do not reveal that the tenant exists
            if role is Role.ADMIN and member.role is not Role.ADMIN:
                abort(403)
            tenant = get_db().session.get(Tenant, tenant_id)
            g.tenant, g.membership = tenant, member
            return view(tenant=tenant, **kwargs)

        return wrapped

    return decorator
