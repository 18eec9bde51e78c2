"""The vocabularies of access: roles, organisation kinds, visibilities and actions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    READER = "reader"
    EDITOR = "editor"
    CURATOR = "curator"
    ADMIN = "admin"


class OrgKind(StrEnum):
    ENTERPRISE = "enterprise"
    UNIT = "unit"
    BUREAU = "bureau"


class Visibility(StrEnum):
    PUBLIC = "public"
    REGISTERED = "registered"
    RESTRICTED = "restricted"


class Action(StrEnum):
    READ = "read"  # the published face
    READ_WORK = "read_work"  # working revisions, history, review notes
    EDIT = "edit"  # save a new revision, submit, withdraw
    REVIEW = "review"  # publish, return
    ARCHIVE = "archive"


ROLE_LABELS = {
    Role.READER: "采购单位用户",
    Role.EDITOR: "企业编辑",
    Role.CURATOR: "数据局审核员",
    Role.ADMIN: "系统管理员",
}
ORG_KIND_LABELS = {
    OrgKind.ENTERPRISE: "入围企业",
    OrgKind.UNIT: "采购预算单位",
    OrgKind.BUREAU: "统筹协调单位",
}
VISIBILITY_LABELS = {
    Visibility.PUBLIC: "公开",
    Visibility.REGISTERED: "登录可见",
    Visibility.RESTRICTED: "受限",
}
STATUS_LABELS = {
    "draft": "草稿",
    "submitted": "待审核",
    "returned": "已退回",
    "published": "已发布",
    "archived": "已归档",
    "superseded": "已被替代",
}

# Which organisation kinds each role may belong to: an editor speaks for an enterprise,
# a curator for the bureau.
ROLE_ORG_KINDS = {
    Role.READER: {OrgKind.UNIT, OrgKind.ENTERPRISE, OrgKind.BUREAU},
    Role.EDITOR: {OrgKind.ENTERPRISE},
    Role.CURATOR: {OrgKind.BUREAU},
    Role.ADMIN: {OrgKind.BUREAU},
}
