"""Organisations, users, password checks, API tokens, and the Flask-Login user loader."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb import audit
from kb.errors import Conflict, Invalid, NotFound
from kb.models import ApiToken, Organisation, User, utcnow
from kb.permissions.roles import ROLE_ORG_KINDS, OrgKind, Role

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
ORG_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
MIN_PASSWORD = 8
# Verified against when a user name is unknown, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("kb-dummy-password-for-timing")


@dataclass
class _SystemOrg:
    id: None = None
    code: str = "system"
    name: str = "系统"
    kind: str = OrgKind.BUREAU


@dataclass
class SystemActor:
    """The actor of CLI commands run by an operator: acts with an administrator's rights."""

    username: str = "系统"
    id: None = None
    role: str = Role.ADMIN
    organisation_id: None = None
    organisation: _SystemOrg = field(default_factory=_SystemOrg)
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False


SYSTEM = SystemActor()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def get_org(s: Session, code: str) -> Organisation:
    org = s.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(f"单位代码“{code}”不存在", fields={"organisation": "单位不存在"})
    return org


def create_org(s: Session, actor: Any, code: str, name: str, kind: str) -> Organisation:
    errors: dict[str, str] = {}
    code = (code or "").strip().lower()
    name = (name or "").strip()
    if not ORG_CODE_RE.match(code):
        errors["code"] = "单位代码只能由小写英文字母、数字和 - 组成，2～64 个字符"
    if not name or len(name) > 200:
        errors["name"] = "单位名称不能为空，且不超过 200 个字符"
    if kind not in set(OrgKind):
        errors["kind"] = (
            "单位类型应为 enterprise（入围企业）、unit（采购预算单位）或 bureau（统筹协调单位）"
        )
    if errors:
        raise Invalid("单位信息有误", fields=errors)
    if s.scalar(select(Organisation).where(Organisation.code == code)):
        raise Conflict(f"单位代码“{code}”已存在", fields={"code": "单位代码已存在"})
    org = Organisation(code=code, name=name, kind=kind)
    s.add(org)
    s.flush()
    audit.record(s, actor, "org.create", "organisation", code, name=name, kind=kind)
    return org


def _check_user_fields(role: str, org: Organisation, errors: dict[str, str]) -> None:
    if role not in set(Role):
        errors["role"] = "角色应为 reader、editor、curator 或 admin"
    elif org.kind not in ROLE_ORG_KINDS[Role(role)]:
        errors["role"] = {
            Role.EDITOR: "企业编辑只能属于入围企业",
            Role.CURATOR: "审核员只能属于统筹协调单位（数据局）",
            Role.ADMIN: "管理员只能属于统筹协调单位（数据局）",
        }.get(Role(role), "该角色不能属于此类单位")


def create_user(
    s: Session,
    actor: Any,
    username: str,
    password: str,
    role: str,
    org_code: str,
    display_name: str = "",
) -> User:
    errors: dict[str, str] = {}
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = "用户名只能由英文字母、数字、_ . - 组成，2～64 个字符"
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = f"密码至少 {MIN_PASSWORD} 个字符"
    org = s.scalar(select(Organisation).where(Organisation.code == (org_code or "").strip()))
    if org is None:
        errors["organisation"] = f"单位代码“{org_code}”不存在"
    else:
        _check_user_fields(role, org, errors)
    if errors:
        raise Invalid("用户信息有误", fields=errors)
    if s.scalar(select(User).where(User.username == username)):
        raise Conflict(f"用户名“{username}”已存在", fields={"username": "用户名已存在"})
    user = User(
        username=username,
        display_name=(display_name or username)[:100],
        password_hash=hash_password(password),
        role=role,
        organisation=org,
    )
    s.add(user)
    s.flush()
    audit.record(s, actor, "user.create", "user", username, role=role, organisation=org_code)
    return user


def update_user(
    s: Session,
    actor: Any,
    user: User,
    *,
    role: str | None = None,
    org_code: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, organisation, status or password; each change is audited."""
    errors: dict[str, str] = {}
    org = user.organisation
    if org_code is not None and org_code != org.code:
        found = s.scalar(select(Organisation).where(Organisation.code == org_code))
        if found is None:
            errors["organisation"] = f"单位代码“{org_code}”不存在"
        else:
            org = found
    new_role = role or user.role
    _check_user_fields(new_role, org, errors)
    if password is not None and len(password) < MIN_PASSWORD:
        errors["password"] = f"密码至少 {MIN_PASSWORD} 个字符"
    if getattr(actor, "id", None) == user.id and (active is False or new_role != user.role):
        errors["role"] = "不能停用自己的账号或修改自己的角色"
    if errors:
        raise Invalid("用户信息有误", fields=errors)
    changes: dict[str, Any] = {}
    if new_role != user.role:
        changes["role"] = [user.role, new_role]
        user.role = new_role
    if org is not user.organisation:
        changes["organisation"] = [user.organisation.code, org.code]
        user.organisation = org
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
        user.active = active
    if password is not None:
        user.password_hash = hash_password(password)
        changes["password"] = "reset"
    if changes:
        audit.record(s, actor, "user.update", "user", user.username, **changes)
    return user


def authenticate(s: Session, username: str, password: str, ip: str = "") -> User | None:
    """The user if name and password match an active account, else None; both outcomes audited."""
    user = s.scalar(select(User).where(User.username == (username or "").strip()))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is not None and ok and user.active:
        user.last_login_at = utcnow()
        audit.record(s, user, "auth.login", "user", user.username, ip=ip)
        return user
    # the attempted name is kept for the audit trail, never the password
    audit.record(
        s,
        None,
        "auth.login_failed",
        "user",
        (username or "")[:64],
        ip=ip,
        reason="inactive" if (user is not None and ok) else "bad_credentials",
    )
    return None


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(s: Session, actor: Any, user: User, name: str = "") -> str:
    """Create an API token for ``user``; the raw token is returned once and stored only hashed."""
    raw = "kb_" + secrets.token_urlsafe(32)
    s.add(ApiToken(user=user, token_hash=_token_digest(raw), name=name[:100]))
    audit.record(s, actor, "token.create", "user", user.username, name=name)
    return raw


def user_for_token(s: Session, raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    digest = _token_digest(raw)
    token = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    token.last_used_at = utcnow()
    return token.user


def load_user(s: Session, user_id: str) -> User | None:
    try:
        user = s.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


def list_orgs(s: Session) -> list[Organisation]:
    return list(s.scalars(select(Organisation).order_by(Organisation.kind, Organisation.code)))


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.username)))


def get_user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    return user


def org_names(s: Session) -> dict[str, str]:
    """Organisation code → name, for showing facets and owners by name."""
    return {code: name for code, name in s.execute(select(Organisation.code, Organisation.name))}
