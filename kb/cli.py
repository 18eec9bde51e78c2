"""The ``kb`` command: set up, import, index maintenance, tokens, checks, and serving.

Every command honours KB_DATA_DIR and KB_DATABASE_URL exactly as the server does, prints
Chinese messages, and exits non-zero on failure (2 for a usage or configuration problem).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from kb import ROOT, create_app
from kb.config import ConfigError
from kb.errors import KbError

DEMO_MARK = "demo_setup"  # started → done: a killed `kb init --demo` is finished by the next one
DEMO_ORGS = (
    ("bureau", "广西壮族自治区数据局（示例）", "bureau"),
    ("demo", "示例信创服务有限公司", "enterprise"),
    ("demo-unit", "示例市政务服务中心", "unit"),
)
DEMO_USERS = (
    ("reader", "reader", "demo-unit", "示例单位用户"),
    ("editor", "editor", "demo", "示例企业编辑"),
    ("curator", "curator", "bureau", "示例数据局审核员"),
    ("admin", "admin", "bureau", "示例系统管理员"),
)


def make_app(**config: Any) -> Any:
    """The app for a command; configuration problems and a database behind the code exit 2."""
    from kb.schema_version import SchemaBehind

    try:
        return create_app(config or None)
    except SchemaBehind as err:
        click.echo(f"错误：{err}", err=True)
        sys.exit(2)
    except ConfigError as err:
        click.echo(f"配置错误：{err}", err=True)
        sys.exit(2)


def with_app(func: Callable[..., Any] | None = None, **config: Any) -> Any:
    """Build the app (config errors exit 2), push its context, turn KbError into exit 1.

    ``@with_app(SCHEMA_CHECK=False)`` is for the commands that bring an old database up to
    date (``kb init``, ``kb db``), which must start where the others refuse to."""
    if func is None:
        return functools.partial(with_app, **config)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = make_app(**config)
        # index work of the command's own commits happens once, at its end (see kb.index)
        app.config["INDEX_DRAIN"] = "deferred"
        try:
            with app.app_context():
                if config.get("SCHEMA_CHECK", True):  # not before `kb db upgrade` has run
                    _catch_up()  # what a killed command left unapplied in the index log
                try:
                    return func(*args, **kwargs)
                except KbError as err:
                    click.echo(f"错误：{err.message}", err=True)
                    for name, message in err.fields.items():
                        click.echo(f"  {name}: {message}", err=True)
                    sys.exit(1)
                finally:
                    _catch_up()
        finally:
            app.extensions["kb_engine"].dispose()

    return wrapper


def _catch_up() -> None:
    """Apply the index log if there is a database and a healthy index (never fails)."""
    from sqlalchemy import inspect

    from kb import db
    from kb.index import writer

    try:
        if not inspect(db.engine()).has_table("index_task"):
            return
    except Exception:  # no database yet, or unreachable: the command itself will say so
        return
    writer.catch_up_quietly()


@click.group(help="广西信创服务保障知识库（kb）管理命令")
def cli() -> None:
    pass


def _session():  # type: ignore[no-untyped-def]
    """The command's session; an empty database gets the schema first (through migrations)."""
    from kb import db
    from kb.schema_version import SchemaBehind

    try:
        db.ensure_schema()
    except SchemaBehind as err:
        click.echo(f"错误：{err}", err=True)
        sys.exit(2)
    return db.session()


@cli.command(
    "init", help="创建数据库；--demo 时创建示例单位、示例账号，并导入 articles/ 中的示例文章"
)
@click.option("--demo/--no-demo", default=False, help="创建示例数据（make run 使用）")
@with_app(SCHEMA_CHECK=False)
def init_cmd(demo: bool) -> None:
    from flask import current_app
    from sqlalchemy import func

    from kb import accounts, db
    from kb.accounts import SYSTEM
    from kb.models import Article, Organisation, Setting, User

    click.echo(f"数据目录：{current_app.config['DATA_DIR']}")
    _upgrade()
    s = db.session()
    if s.scalar(select(Organisation).where(Organisation.kind == "bureau")) is None:
        accounts.create_org(s, SYSTEM, "bureau", "广西壮族自治区数据局", "bureau")
        s.commit()
    from kb import articles as ops
    from kb import freshness

    if freshness.fill_missing(s):  # issue 11: older data gets the default review dates
        ops.commit(s)
    if not demo:
        click.echo("数据库已就绪。")
        return
    users = s.scalar(select(func.count()).select_from(User)) or 0
    articles = s.scalar(select(func.count()).select_from(Article)) or 0
    mark = s.get(Setting, DEMO_MARK)
    if mark is not None and mark.value != "done":
        # an earlier `kb init --demo` was killed part-way: finish what it began (every step
        # skips what already exists), rather than leave half the samples for good
        click.echo("上次初始化示例数据未完成，继续完成（已有内容保持不变）。")
        _demo_content(s)
        return
    if users or articles:
        # Restarts never change content: the samples go only into an empty database, so an
        # approved edit is never replaced by the sample text again.
        click.echo(
            f"数据库中已有内容（{users} 个账号，{articles} 篇文章），"
            "不再创建示例账号或导入示例文章，现有内容保持不变。"
        )
        accounts_file = Path(current_app.config["DATA_DIR"]) / "demo-accounts.txt"
        if accounts_file.exists():
            click.echo(f"示例账号的密码见 {accounts_file}")
        from kb.index import writer

        writer.ensure_index()
        return
    _demo_content(s)


def _upgrade() -> None:
    """Bring the database to the code's schema, saying what was done; refusal exits 2."""
    from kb import db, schema_version

    try:
        for line in schema_version.upgrade(db.engine()):
            click.echo(line)
    except schema_version.SchemaBehind as err:
        click.echo(f"错误：{err}", err=True)
        sys.exit(2)


def _demo_content(s: Any) -> None:
    """Demo organisations, accounts and the sample articles, into an empty database."""
    from flask import current_app

    from kb import accounts, importer, passwords
    from kb.accounts import SYSTEM
    from kb.models import Organisation, Setting, Ticket, User

    mark = s.get(Setting, DEMO_MARK)
    if mark is None:
        s.add(Setting(key=DEMO_MARK, value="started"))  # committed with the first rows below
    for code, name, kind in DEMO_ORGS:
        if s.scalar(select(Organisation).where(Organisation.code == code)) is None:
            accounts.create_org(s, SYSTEM, code, name, kind)
    s.commit()
    created: list[tuple[str, str, str]] = []
    for username, role, org, display in DEMO_USERS:
        if s.scalar(select(User).where(User.username == username)) is None:
            password = passwords.generate()
            accounts.create_user(s, SYSTEM, username, password, role, org, display)
            created.append((username, role, password))
    s.commit()
    accounts_file = Path(current_app.config["DATA_DIR"]) / "demo-accounts.txt"
    if created:
        lines = ["# kb 示例账号（首次初始化时生成；首次登录时须修改密码）"]
        lines += [f"{u}\t{r}\t{p}" for u, r, p in created]
        old = accounts_file.read_text(encoding="utf-8") if accounts_file.exists() else ""
        accounts_file.write_text(old + "\n".join(lines) + "\n", encoding="utf-8")
        accounts_file.chmod(0o600)
        click.echo(
            "已创建示例账号（初始密码只显示这一次，也已写入 demo-accounts.txt；"
            "首次登录时须修改密码）："
        )
        for username, role, password in created:
            click.echo(f"  {username:<8} {role:<8} {password}")
    else:
        click.echo(f"示例账号已存在，密码见 {accounts_file}")

    results = importer.import_paths(
        s, SYSTEM, [str(ROOT / "articles")], enterprise_code="demo", publish=True
    )
    _print_import(results, quiet=True)
    from kb import articles as ops

    # sample tickets, votes and a revision request: only into a database this command is
    # filling (they go in one transaction, so no tickets means they are still to come)
    if s.scalar(select(Ticket.id).limit(1)) is None:
        from kb import demo

        made = demo.populate_loops(s)
        click.echo(
            f"示例闭环数据：工单 {made.tickets} 个（生成草稿 {made.drafts} 篇），"
            f"读者评价 {made.votes} 条，修订请求 {made.requests} 个"
        )
    s.get(Setting, DEMO_MARK).value = "done"
    ops.commit(s)
    from kb.index import writer

    writer.ensure_index()


def _print_import(results: list[Any], quiet: bool = False) -> bool:
    labels = {
        "created": "新建",
        "revised": "新修订",
        "unchanged": "未变化",
        "kept": "保留现有修订",
        "draft": "存为草稿",
        "failed": "失败",
    }
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        if quiet and r.outcome in ("created", "revised", "unchanged"):
            continue
        click.echo(f"{labels[r.outcome]}\t{r.path}\t{r.slug or ''}\t{r.message}")
        for f in r.findings:
            if f["severity"] == "error" or not quiet:
                click.echo(
                    f"    {f['rule']} {f['severity']} 第{f['line'] or '-'}行：{f['message']}"
                )
    summary = "，".join(f"{labels[k]} {v}" for k, v in counts.items()) or "没有找到 .md 文件"
    click.echo(f"导入完成：共 {len(results)} 个文件，{summary}")
    return not counts.get("failed")


@cli.command("import", help="导入 Markdown 文件或目录（front matter + 正文）")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--enterprise", "enterprise", default=None, help="所属入围企业代码")
@click.option(
    "--publish",
    is_flag=True,
    help="通过内容检查的文章直接发布（不加时，已发布文章的新内容提交审核，不影响线上版本）",
)
@click.option("--force", is_flag=True, help="与 --publish 合用：有错误的文章也发布（记入审计日志）")
@with_app
def import_cmd(paths: tuple[str, ...], enterprise: str | None, publish: bool, force: bool) -> None:
    from kb import importer
    from kb.accounts import SYSTEM

    if force and not publish:
        raise click.UsageError("--force 只能与 --publish 一起使用")
    s = _session()
    results = importer.import_paths(
        s, SYSTEM, paths, enterprise_code=enterprise, publish=publish, force=force
    )
    ok = _print_import(results)
    sys.exit(0 if ok else 1)  # with_app applies the index log on the way out


@cli.group("db", help="数据库结构：升级与查看版本")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="把数据库结构升级到本程序的版本（升级 kb 后运行；可重复运行）")
@with_app(SCHEMA_CHECK=False)
def db_upgrade() -> None:
    _upgrade()


@db_group.command("current", help="显示数据库结构版本；与程序一致时退出码 0，否则 1")
@with_app(SCHEMA_CHECK=False)
def db_current() -> None:
    from kb import db, schema_version

    found = schema_version.state(db.engine())
    click.echo(f"数据库结构版本：{found.current or '无'}；程序需要：{found.head}")
    click.echo(found.message)
    sys.exit(0 if found.kind == "current" else 1)


@cli.command("backup", help="把数据库和数据目录中的密钥备份到新目录 PATH（服务运行中也可备份）")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@with_app(SCHEMA_CHECK=False)
def backup_cmd(path: Path) -> None:
    from flask import current_app

    from kb import backup, db

    result = backup.backup(db.engine(), Path(current_app.config["DATA_DIR"]), path)
    manifest = result.manifest
    counts = manifest["counts"]
    click.echo(f"已备份到 {result.path}")
    click.echo(
        f"数据库：{manifest['database']}，结构版本 {manifest['schema_revision']}，"
        f"文章 {counts.get('article', 0)} 篇，修订 {counts.get('revision', 0)} 个，"
        f"用户 {counts.get('user', 0)} 个"
    )
    click.echo("文件：" + "、".join(manifest["files"] + [backup.MANIFEST]))


@cli.command("restore", help="从 kb backup 的备份目录恢复到空的数据目录（并重建搜索索引）")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_cmd(path: Path) -> None:
    from kb import backup, db, schema_version

    # Look at the target without creating a secret key in it (the backup brings its own).
    probe = make_app(SCHEMA_CHECK=False, SECRET_KEY="restore-probe")
    data_dir = Path(probe.config["DATA_DIR"])
    engine = probe.extensions["kb_engine"]
    try:
        manifest = backup.read_manifest(path)
        present = backup.data_dir_in_use(data_dir)
        if present:
            raise backup.BackupError(
                f"数据目录 {data_dir} 不是空的（已有 {'、'.join(present[:5])}），"
                "恢复只能在空的数据目录中进行：请设置 KB_DATA_DIR 指向一个新目录。"
            )
        if engine.dialect.name != "sqlite" and not backup.database_is_empty(engine):
            raise backup.BackupError(
                f"目标数据库 {backup.database_url_for_display(engine)} 不是空的，"
                "恢复只能在空数据库中进行。"
            )
        backup.restore_files(path, data_dir)
        backup.restore_database(engine, path, manifest)
    except KbError as err:
        click.echo(f"错误：{err.message}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()

    app = make_app(SCHEMA_CHECK=False)
    try:
        with app.app_context():
            _upgrade()
            from kb.index import writer

            info = writer.rebuild()
            counts = backup.counts_of(db.engine())
            wrong = {
                name: (count, counts.get(name))
                for name, count in manifest["counts"].items()
                if counts.get(name) != count
            }
            if wrong:
                click.echo(f"错误：恢复后的行数与备份清单不符：{wrong}", err=True)
                sys.exit(1)
            state = schema_version.state(db.engine())
    finally:
        app.extensions["kb_engine"].dispose()
    click.echo(f"已从 {path} 恢复到 {data_dir}（备份时间 {manifest['created_at']}）")
    click.echo(
        f"文章 {counts.get('article', 0)} 篇，修订 {counts.get('revision', 0)} 个，"
        f"用户 {counts.get('user', 0)} 个；结构版本 {state.current}；"
        f"搜索索引已重建（{info['documents']} 篇）"
    )


@cli.group("token", help="API 令牌")
def token_group() -> None:
    pass


@token_group.command("create", help="为用户创建 API 令牌；令牌单独显示在最后一行")
@click.argument("username", required=False)
@click.option("--name", default="", help="令牌用途说明")
@click.option("--platform", "platform", default=None, help="为服务保障平台创建令牌，绑定此企业代码")
@click.option(
    "--expires-days",
    "expires_days",
    default=None,
    type=click.IntRange(1, 3650),
    help="有效天数（不给出时长期有效，直到吊销）",
)
@with_app
def token_create(
    username: str | None, name: str, platform: str | None, expires_days: int | None
) -> None:
    from kb import accounts
    from kb.accounts import SYSTEM

    s = _session()
    if platform:
        from kb import tickets

        user = tickets.platform_user(s, SYSTEM, platform)
    elif username:
        user = accounts.get_user(s, username)
    else:
        raise click.UsageError("请给出用户名，或用 --platform 企业代码")
    raw = accounts.create_token(
        s, SYSTEM, user, name or ("platform" if platform else ""), expires_days=expires_days
    )
    s.commit()
    until = f"，{expires_days} 天后过期" if expires_days else "，长期有效直到吊销"
    click.echo(f"已为 {user.username} 创建令牌（只显示这一次{until}）：")
    click.echo(raw)


@token_group.command("list", help="列出 API 令牌（不显示令牌本身）；可只看一个用户的")
@click.argument("username", required=False)
@with_app
def token_list(username: str | None) -> None:
    from kb import accounts
    from kb.web import localtime

    tokens = accounts.list_tokens(_session(), username)
    if not tokens:
        click.echo("没有令牌。")
        return
    click.echo("编号\t用户\t用途\t状态\t创建时间\t最近使用\t过期时间")
    for t in tokens:
        click.echo(
            "\t".join(
                (
                    str(t.id),
                    t.user.username,
                    t.name or "-",
                    accounts.token_state(t),
                    localtime(t.created_at),
                    localtime(t.last_used_at) or "-",
                    localtime(t.expires_at) or "长期",
                )
            )
        )


@token_group.command("revoke", help="吊销 API 令牌：给出令牌本身，或 kb token list 显示的编号")
@click.argument("token_or_id")
@with_app
def token_revoke(token_or_id: str) -> None:
    from kb import accounts
    from kb.accounts import SYSTEM

    s = _session()
    token = accounts.revoke_token(s, SYSTEM, token_or_id)
    s.commit()
    click.echo(f"已吊销令牌 {token.id}（用户 {token.user.username}，用途 {token.name or '-'}）")


@cli.group("user", help="用户管理")
def user_group() -> None:
    pass


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["reader", "editor", "curator", "admin"]))
@click.option("--org", "org", required=True, help="单位代码")
@click.option("--password", default=None, help="不给出时自动生成并显示")
@click.option("--name", "display_name", default="")
@with_app
def user_create(
    username: str, role: str, org: str, password: str | None, display_name: str
) -> None:
    from kb import accounts, passwords
    from kb.accounts import SYSTEM

    s = _session()
    generated = password is None
    password = password or passwords.generate()
    accounts.create_user(s, SYSTEM, username, password, role, org, display_name)
    s.commit()
    click.echo(
        f"已创建用户 {username}"
        + (f"，初始密码：{password}" if generated else "")
        + "（首次登录时须修改密码）"
    )


@user_group.command("unlock", help="解除因多次登录失败造成的账号锁定")
@click.argument("username")
@with_app
def user_unlock(username: str) -> None:
    from kb import accounts
    from kb.accounts import SYSTEM

    s = _session()
    user = accounts.get_user(s, username)
    was = accounts.locked(user)
    accounts.unlock(s, SYSTEM, user)
    s.commit()
    click.echo(f"已解除 {username} 的锁定。" if was else f"{username} 未被锁定；失败计数已清零。")


@cli.group("org", help="单位管理")
def org_group() -> None:
    pass


@org_group.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["enterprise", "unit", "bureau"]))
@with_app
def org_create(code: str, name: str, kind: str) -> None:
    from kb import accounts
    from kb.accounts import SYSTEM

    s = _session()
    accounts.create_org(s, SYSTEM, code, name, kind)
    s.commit()
    click.echo(f"已创建单位 {code}（{name}）")


@cli.command("serve", help="提供网站服务（默认 http://127.0.0.1:5000）；--workers N 用 N 个进程")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option("--threads", default=8, type=click.IntRange(1, 64), help="每个进程的线程数")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    help="进程数：1 用 waitress（默认），大于 1 用 gunicorn",
)
@click.option("--access-log", is_flag=True, help="在标准输出记录每个请求（含处理进程号；多进程时）")
def serve(host: str | None, port: int | None, threads: int, workers: int, access_log: bool) -> None:
    from kb import serving

    app = make_app()
    with app.app_context():
        _session()
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    problem = serving.cannot_listen(host, port)
    if problem:
        click.echo(f"错误：无法在 {host}:{port} 上提供服务：{problem}", err=True)
        sys.exit(2)
    click.echo(
        f"kb 已启动：http://{host}:{port}/ （数据目录 {app.config['DATA_DIR']}，"
        f"索引目录 {app.config['INDEX_DIR']}，{workers} 个进程）"
    )
    if workers > 1:
        app.extensions["kb_engine"].dispose()  # the workers open their own connections
        serving.run_gunicorn(host, port, workers, threads, access_log)
        return
    # The index is checked, repaired and caught up by the drainer thread, not here: a damaged
    # index must not stop the site from starting (search answers 503 until it is rebuilt).
    from kb.index import drainer

    serving.limit_heap_growth()
    drainer.start(app).wake()
    serving.run_waitress(app, host, port, threads)  # Server: waitress


@cli.command("check", help="按知识库标准检查 Markdown 文章（文件或目录）；有错误时退出码为 1")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help='text：逐条列出；json：{"files": [{"path", "findings"}]}',
)
def check_cmd(paths: tuple[str, ...], fmt: str) -> None:
    import json

    from kb.checker import batch

    app = make_app()
    files = batch.markdown_files(paths)
    if not files:
        raise click.UsageError("给出的目录中没有 .md 文件")
    with app.app_context():
        context = batch.database_context()
        results = batch.check_files(files, context)
    if fmt == "json":
        click.echo(json.dumps(batch.as_json(results), ensure_ascii=False, indent=2))
    else:
        for line in batch.as_text(results):
            click.echo(line)
        if context.known_slugs is None:
            click.echo(
                "（没有找到知识库数据库，站内链接未核对；在服务器上运行可核对链接和重复内容。）"
            )
    sys.exit(1 if any(report.has_errors for _, report in results) else 0)


def main() -> None:
    cli()


@cli.command("reindex", help="从数据库重建搜索索引（在新目录中构建后切换，期间搜索不中断）")
@click.option("--procs", default=1, type=click.IntRange(1, 8), help="并行构建的进程数")
@with_app
def reindex(procs: int) -> None:
    from kb.index import writer

    _session()
    info = writer.rebuild(procs=procs)
    rate = info["documents"] / info["seconds"] if info["seconds"] else 0
    click.echo(
        f"索引已重建：{info['documents']} 篇，用时 {info['seconds']:.1f} 秒（{rate:.0f} 篇/秒）"
    )


@cli.group("index", help="搜索索引维护")
def index_group() -> None:
    pass


@index_group.command(
    "drain", help="应用索引变更日志；索引损坏或过期时重建（服务的后台线程也会自动执行）"
)
@with_app
def index_drain() -> None:
    from kb.index import writer

    found = writer.problem()
    if found is not None:
        click.echo(f"搜索索引不可用：{found.message}，正在重建…")
        if not writer.repair(found):
            click.echo("另一个进程正在重建索引。")
            return
        click.echo("索引已重建。")
        return
    applied = writer.drain()
    click.echo(f"已应用索引变更：{applied} 篇文章。")


@index_group.command("verify", help="比对数据库与索引；--repair 修复差异。一致时退出码 0，有差异 1")
@click.option("--repair", is_flag=True, help="修复发现的差异")
@with_app
def index_verify(repair: bool) -> None:
    from kb.index import writer

    _session()
    report = writer.verify(repair=repair)
    if report.problem is not None:
        click.echo(f"搜索索引不可用：{report.problem.message}。", err=True)
        if repair:
            after = writer.verify()
            click.echo("已重建索引。" if after.ok else "重建后仍有差异，请运行 kb reindex。")
            sys.exit(0 if after.ok else 1)
        click.echo(
            "正在运行的 kb serve 会自动在后台重建索引（期间搜索暂不可用）；"
            "也可以运行 kb index verify --repair 或 kb reindex 立即重建。",
            err=True,
        )
        sys.exit(1)
    click.echo(f"待处理的索引任务：{report.queued}")
    for label, slugs in (
        ("索引中缺少", report.missing),
        ("索引中多余", report.extra),
        ("索引内容过期", report.stale),
    ):
        click.echo(
            f"{label}：{len(slugs)}"
            + (f"（{'、'.join(slugs[:20])}{' …' if len(slugs) > 20 else ''}）" if slugs else "")
        )
    if report.ok:
        click.echo("数据库与索引一致。")
        return
    if repair:
        after = writer.verify()
        click.echo("已修复。" if after.ok else "修复后仍有差异，请运行 kb reindex。")
        sys.exit(0 if after.ok else 1)
    sys.exit(1)


if __name__ == "__main__":  # python -m kb.cli (the index drainer's child process)
    main()
