"""Organisations, users, sign-in (with lockout), password changes, API tokens.

Lockout (等保2.0 三级 身份鉴别: 登录失败处理): ``KB_LOGIN_MAX_FAILURES`` failures of one account
within ``KB_LOGIN_FAILURE_WINDOW_MINUTES`` lock it for ``KB_LOGIN_LOCK_MINUTES``. Failures are
rows in the database, so every worker and a restarted server count the same ones. A locked
account answers exactly as an unknown user or a wrong password does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb import audit, passwords, sessions
from kb.errors import Conflict, Invalid, NotFound
from kb.models import ApiToken, LoginFailure, Organisation, User
from kb.permissions.roles import ROLE_ORG_KINDS, OrgKind, Role

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
ORG_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
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
    weak = passwords.problem(password, username=username, display_name=display_name)
    if weak:
        errors["password"] = weak
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
        # the password was chosen by someone else (CLI, admin, demo): its owner replaces it
        must_change_password=True,
        password_changed_at=sessions.now(),
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
    if password is not None:
        weak = passwords.problem(password, username=user.username, display_name=user.display_name)
        if weak:
            errors["password"] = weak
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
        user.must_change_password = True
        user.password_changed_at = sessions.now()
        changes["password"] = "reset"
    if changes:
        audit.record(s, actor, "user.update", "user", user.username, **changes)
        # whatever changed, the sessions opened under the old rights or password end now
        reason = (
            "password"
            if "password" in changes
            else "disabled"
            if changes.get("active") == [True, False]
            else "role"
        )
        ended = sessions.end_all(s, user, reason)
        if ended:
            audit.record(
                s, actor, "auth.sessions_ended", "user", user.username, reason=reason, count=ended
            )
    return user


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def locked(user: User, at: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (at or sessions.now())


def password_change_due(user: User) -> str | None:
    """Why ``user`` must change the password before anything else, or None."""
    if user.must_change_password:
        return "您的密码由他人设置（初始密码或管理员重置），请先修改密码。"
    days = _setting("PASSWORD_MAX_AGE_DAYS", 90)
    changed = user.password_changed_at or user.created_at
    if days and changed is not None and sessions.now() - changed >= timedelta(days=days):
        return f"您的密码已超过 {days} 天未更换，请修改密码。"
    return None


def change_password(
    s: Session, user: User, current: str, new: str, again: str, ip: str = ""
) -> None:
    """The owner changes their own password; every session of theirs ends (audited).

    A wrong current password counts towards the lockout like a failed sign-in, so an open
    session left unattended cannot be used to guess the password; if it locks the account,
    the user's sessions end too."""
    errors: dict[str, str] = {}
    if not check_password_hash(user.password_hash, current or ""):
        errors["current"] = "当前密码不正确。"
        if _count_failure(s, user, sessions.now(), ip):
            sessions.end_all(s, user, "locked")
    if new != again:
        errors["again"] = "两次输入的新密码不一致。"
    weak = passwords.problem(new, username=user.username, display_name=user.display_name)
    if weak:
        errors["password"] = weak
    elif current and new == current:
        errors["password"] = "新密码不能与当前密码相同。"
    if errors:
        audit.record(
            s, user, "auth.password_change_failed", "user", user.username, fields=sorted(errors)
        )
        raise Invalid("密码未修改", fields=errors)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = sessions.now()
    ended = sessions.end_all(s, user, "password")
    audit.record(s, user, "auth.password_change", "user", user.username, sessions_ended=ended)


def unlock(s: Session, actor: Any, user: User) -> None:
    """An administrator lifts a lockout and clears the failure count (audited)."""
    s.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id))
    was = locked(user)
    user.locked_until = None
    audit.record(s, actor, "user.unlock", "user", user.username, was_locked=was)


def _count_failure(s: Session, user: User, at: datetime, ip: str) -> bool:
    """Record one failure; True when it locked the account."""
    window = timedelta(minutes=_setting("LOGIN_FAILURE_WINDOW_MINUTES", 15))
    # failures older than the window no longer count: drop them so the table stays small
    s.execute(
        delete(LoginFailure).where(LoginFailure.user_id == user.id, LoginFailure.at <= at - window)
    )
    s.add(LoginFailure(user_id=user.id, at=at, ip=ip[:64]))
    s.flush()
    count = s.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.user_id == user.id, LoginFailure.at > at - window
        )
    )
    if (count or 0) < _setting("LOGIN_MAX_FAILURES", 5):
        return False
    minutes = _setting("LOGIN_LOCK_MINUTES", 15)
    user.locked_until = at + timedelta(minutes=minutes)
    # the failures that caused this lock are spent: after it, counting starts afresh
    s.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id))
    audit.record(
        s, None, "auth.locked", "user", user.username, failures=count, minutes=minutes, ip=ip
    )
    return True


def authenticate(s: Session, username: str, password: str, ip: str = "") -> User | None:
    """The user if name and password match an active, unlocked account, else None.

    Every outcome is audited; the caller answers every None alike. The password is checked
    even for an unknown or locked account, so the answer takes as long either way.
    """
    user = s.scalar(select(User).where(User.username == (username or "").strip()))
    at = sessions.now()
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    is_locked = user is not None and locked(user, at)
    if user is not None and ok and user.active and not is_locked:
        user.last_login_at = at
        s.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id))
        audit.record(s, user, "auth.login", "user", user.username, ip=ip)
        return user
    if user is None:
        reason = "bad_credentials"
    elif is_locked:
        reason = "locked"
    elif not ok:
        reason = "bad_credentials"
        _count_failure(s, user, at, ip)
    else:
        reason = "inactive"
    # the attempted name is kept for the audit trail, never the password
    audit.record(s, None, "auth.login_failed", "user", (username or "")[:64], ip=ip, reason=reason)
    return None


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    s: Session, actor: Any, user: User, name: str = "", expires_days: int | None = None
) -> str:
    """Create an API token for ``user``; the raw token is returned once and stored only hashed.

    ``expires_days`` None or 0: the token lives until revoked (a service platform's machine
    account cannot answer a password prompt; revocation is the control)."""
    if expires_days is not None and not 0 <= expires_days <= 3650:
        raise Invalid("有效期应在 0～3650 天之间", fields={"expires_days": "应在 0～3650 之间"})
    raw = "kb_" + secrets.token_urlsafe(32)
    expires = sessions.now() + timedelta(days=expires_days) if expires_days else None
    s.add(ApiToken(user=user, token_hash=_token_digest(raw), name=name[:100], expires_at=expires))
    audit.record(
        s,
        actor,
        "token.create",
        "user",
        user.username,
        name=name,
        expires_at=expires.isoformat() if expires else None,
    )
    return raw


def list_tokens(s: Session, username: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).join(User, ApiToken.user_id == User.id)
    if username:
        query = query.where(User.username == get_user(s, username).username)
    return list(s.scalars(query.order_by(User.username, ApiToken.id)))


def token_state(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "已吊销"
    if token.expires_at is not None and token.expires_at <= sessions.now():
        return "已过期"
    if not token.user.active:
        return "用户已停用"
    return "有效"


def revoke_token(s: Session, actor: Any, token_or_id: str) -> ApiToken:
    """Revoke by the token itself or by the id that ``list_tokens`` shows (audited)."""
    value = (token_or_id or "").strip()
    if value.isdigit():
        token = s.get(ApiToken, int(value))
    else:
        token = s.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(value)))
    if token is None:
        raise NotFound("没有这个令牌（请给出令牌本身，或 kb token list 显示的编号）")
    if token.revoked_at is None:
        token.revoked_at = sessions.now()
        audit.record(
            s,
            actor,
            "token.revoke",
            "user",
            token.user.username,
            token_id=token.id,
            name=token.name,
        )
    return token


def user_for_token(s: Session, raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    digest = _token_digest(raw)
    token = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    at = sessions.now()
    if token.expires_at is not None and token.expires_at <= at:
        return None
    token.last_used_at = at
    return token.user


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
