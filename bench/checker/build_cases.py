"""Build the checker's labelled set: bench/checker/cases/*.md and labels.json.

Good articles are sample articles brought fully up to the standard (each glossary term
explained at first use, by applying the glossary explanation); defective articles are good
ones with one or two known defects injected, each labelled with the rule that must find it;
hand-written cases cover what must be found and what must be left alone (hotlines, example
addresses, placeholders, markup inside code). Deterministic: re-running gives the same files.

    .venv/bin/python bench/checker/build_cases.py
"""

# ruff: noqa: E501  (the defect table and the handwritten articles read best one per line)

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kb.checker import CheckContext, check  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
TODAY = "2026-11-24"  # the bench's fixed "today", so review dates do not age the labels

# samples that become the "published" knowledge base for the duplicate rule (not reused as bases)
PUBLISHED = [
    "kylin-hp-m1136-offline",
    "wps-export-pdf",
    "ukey-not-recognized",
    "kylin-uos-time-sync",
]
BASES = [
    "wps-linux-freeze-first-row",
    "dual-screen-projector-meeting",
    "gov-site-browser-compat-mode",
    "xinchuang-browser-default-bookmarks-faq",
    "zhaoxin-byosoft-post-error",
    "kingbase-v8-charset-garbled",
    "middleware-java-outofmemory",
    "print-chinese-garbled-blank-page",
    "wps-office-format-compatibility",
    "kunpeng920-bios-firmware-upgrade",
    "ca-cert-login-failed",
    "ofd-electronic-seal-ukey",
    "wps-vba-macro-migration",
    "uos-pantum-m6202-driver",
    "browser-sign-control-not-detected",
    "dm8-case-sensitive-principle",
    "document-camera-gaopaiyi-faq",
    "phytium-kunlun-bios-settings",
    "demo-unit-network-printer-config",
    "wps-linux-missing-fonts",
]


def clean(text: str) -> str:
    """The article with every unexplained glossary term linked to the glossary page at its first
    use, as the format guide allows ("术语首次出现时……或链接到解释页面")."""
    for _ in range(60):
        report = check(text, CheckContext())
        todo = [f for f in report.findings if f.rule == "KB-READ-003" and f.fix]
        if not todo:
            return text
        f = todo[0]
        term = f.message.split("“", 1)[1].split("”", 1)[0]
        lines = text.split("\n")
        line, start = lines[f.line - 1], f.column - 1
        assert line[start : start + len(term)] == term, (line, term)
        lines[f.line - 1] = line[:start] + f"[{term}](/glossary#{term})" + line[start + len(term) :]
        text = "\n".join(lines)
    return text


def id_number(first17: str) -> str:
    """A made-up ID number with a valid check digit (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def before_references(text: str, addition: str) -> str:
    marker = "\n## 参考资料"
    at = text.find(marker)
    if at < 0:
        return text.rstrip("\n") + "\n\n" + addition.strip("\n") + "\n"
    return text[:at] + "\n" + addition.strip("\n") + "\n" + text[at:]


def set_meta(text: str, key: str, value: str | None) -> str:
    pattern = re.compile(rf"^{key}:.*$", re.M)
    if value is None:
        return pattern.sub("", text, count=1).replace("\n\n---", "\n---", 1)
    if pattern.search(text):
        return pattern.sub(f"{key}: {value}", text, count=1)
    return text.replace("\n---\n", f"\n{key}: {value}\n---\n", 1)


# ---- defects: (name, labels, function(text) -> text) -----------------------------------------

PARA = "\n{}\n"
DEFECTS = [
    # privacy (errors)
    (
        "phone",
        ["KB-PRIV-001"],
        lambda t: before_references(
            t, PARA.format("如仍无法解决，可致电服务工程师 139-7712-3456 咨询。")
        ),
    ),
    (
        "phone-plain",
        ["KB-PRIV-001"],
        lambda t: before_references(t, PARA.format("联系人手机：15077881234。")),
    ),
    (
        "landline",
        ["KB-PRIV-002"],
        lambda t: before_references(
            t, PARA.format("信息中心值班电话：0771-5561234，工作日可拨打。")
        ),
    ),
    (
        "landline-paren",
        ["KB-PRIV-002"],
        lambda t: before_references(t, PARA.format("也可拨打（0772）2861234 联系机房。")),
    ),
    (
        "id-number",
        ["KB-PRIV-003"],
        lambda t: before_references(
            t, PARA.format(f"测试时使用的证件号为 {id_number('45010319900101123')}。")
        ),
    ),
    (
        "id-number-x",
        ["KB-PRIV-003"],
        lambda t: before_references(t, PARA.format("读卡测试记录：11010519491231002X 读取成功。")),
    ),
    (
        "email",
        ["KB-PRIV-004"],
        lambda t: before_references(t, PARA.format("问题截图请发送到 liwei1988@163.com。")),
    ),
    (
        "email-gov",
        ["KB-PRIV-004"],
        lambda t: before_references(t, PARA.format("如有疑问请联系 zhang.san@gxzf.gov.cn。")),
    ),
    (
        "private-ip",
        ["KB-PRIV-005"],
        lambda t: before_references(
            t, PARA.format("本单位打印机的地址是 192.168.10.25，可直接访问。")
        ),
    ),
    (
        "private-ip-code",
        ["KB-PRIV-005"],
        lambda t: before_references(
            t, "\n检查网络是否连通：\n\n```bash\nping -c 4 10.20.30.40\n```\n"
        ),
    ),
    (
        "private-ip-172",
        ["KB-PRIV-005"],
        lambda t: before_references(t, PARA.format("浏览器代理设置为 `172.20.1.8:8080`。")),
    ),
    (
        "password",
        ["KB-PRIV-006"],
        lambda t: before_references(t, PARA.format("管理员账号为 admin，密码：Gx@2024abc。")),
    ),
    (
        "password-code",
        ["KB-PRIV-006"],
        lambda t: before_references(
            t, "\n连接数据库：\n\n```bash\ndisql SYSDBA/Dm8Pass123@localhost:5236\n```\n"
        ),
    ),
    (
        "token",
        ["KB-PRIV-007"],
        lambda t: before_references(
            t,
            "\n调用接口时在请求头中加入：\n\n```text\nAuthorization: Bearer kb_9fJ2kLmN3pQ4rS5tU6vW7xY8zA1bC2dE3fG4hI5jK6lM\n```\n",
        ),
    ),
    (
        "private-key",
        ["KB-PRIV-007"],
        lambda t: before_references(
            t,
            "\n证书私钥内容如下：\n\n```text\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7hZ...\n-----END RSA PRIVATE KEY-----\n```\n",
        ),
    ),
    (
        "licence",
        ["KB-PRIV-008"],
        lambda t: before_references(
            t, PARA.format("激活时输入序列号 `K7M2P-9QX4R-T8W3H-J6Y5N-B2C4D` 即可。")
        ),
    ),
    (
        "licence-assign",
        ["KB-PRIV-008"],
        lambda t: before_references(t, PARA.format("本机授权码：A8F3K29DQ7。")),
    ),
    # safety (errors)
    (
        "script",
        ["KB-SAFE-001"],
        lambda t: before_references(t, PARA.format('<script>alert("已完成")</script>')),
    ),
    (
        "iframe",
        ["KB-SAFE-001"],
        lambda t: before_references(
            t,
            PARA.format('操作演示见下方视频：<iframe src="https://video.example.com/1"></iframe>'),
        ),
    ),
    (
        "onerror",
        ["KB-SAFE-002"],
        lambda t: before_references(t, PARA.format('<img src="a.png" onerror="alert(1)">')),
    ),
    (
        "js-link",
        ["KB-SAFE-003"],
        lambda t: before_references(
            t, PARA.format("更多说明请[点击这里](javascript:alert(1))查看。")
        ),
    ),
    (
        "raw-html",
        ["KB-SAFE-004"],
        lambda t: before_references(t, PARA.format("请务必<u>先备份数据</u>再继续操作。")),
    ),
    # links
    (
        "dead-link",
        ["KB-LINK-001"],
        lambda t: before_references(
            t, PARA.format("相关内容见 [打印机驱动安装汇总](/articles/printer-driver-collection)。")
        ),
    ),
    (
        "missing-image",
        ["KB-LINK-002"],
        lambda t: before_references(
            t, PARA.format("![设置界面示意图](images/settings-missing.png)")
        ),
    ),
    (
        "remote-image",
        ["KB-LINK-003"],
        lambda t: before_references(
            t, PARA.format("![设置界面示意图](https://img.example.com/settings.png)")
        ),
    ),
    (
        "md-link",
        ["KB-LINK-004"],
        lambda t: before_references(
            t, PARA.format("另请参阅 [字体安装说明](wps-linux-missing-fonts.md)。")
        ),
    ),
    # timeliness
    ("review-past", ["KB-TIME-002"], lambda t: set_meta(t, "review_by", "2025-06-30")),
    ("review-far", ["KB-TIME-003"], lambda t: set_meta(t, "review_by", "2031-12-31")),
    ("review-missing", ["KB-TIME-001"], lambda t: set_meta(t, "review_by", None)),
    ("eol-product", ["KB-TIME-004"], lambda t: set_meta(t, "os", "[中标麒麟桌面操作系统 V6.0]")),
    # layout
    (
        "caution-plain",
        ["KB-LAYOUT-001"],
        lambda t: before_references(t, PARA.format("注意：升级过程中不要关闭电源。")),
    ),
    (
        "typography",
        ["KB-LAYOUT-002"],
        lambda t: before_references(t, PARA.format("完成后在WPS中重新打开文档,确认显示正常。")),
    ),
    # readability
    (
        "long-sentence",
        ["KB-READ-001"],
        lambda t: before_references(
            t,
            PARA.format(
                "如果按照上面的方法处理以后问题依然存在并且错误记录里面也没有出现任何明显的提示信息那么很可能是设备本身的硬件出现了故障或者与当前系统版本之间存在尚未解决的兼容性问题需要联系厂商工程师上门进一步检测处理。"
            ),
        ),
    ),
    (
        "long-paragraph",
        ["KB-READ-002"],
        lambda t: before_references(
            t,
            PARA.format(
                "处理完成后请做好记录。记录内容包括故障现象、发生时间、处理人员和处理过程，便于以后遇到同类问题时参考。"
                "记录应保存在单位的设备台账中，按月整理归档。台账由信息化管理员统一保管，其他人员需要查阅时向管理员申请。"
                "对于反复出现的问题，管理员应汇总后反馈给服务商，由服务商分析根本原因并给出长期的解决办法。"
                "服务商给出的办法经验证有效后，应整理成新的知识库文章提交审核，让其他单位也能受益。"
                "整理文章时要写清楚适用的产品型号和系统版本，并附上操作步骤，方便读者对照检查自己的环境是否一致。"
            ),
        ),
    ),
    (
        "jargon",
        ["KB-READ-003"],
        lambda t: before_references(t, PARA.format("若仍然卡顿，请检查交换分区的大小是否足够。")),
    ),
    (
        "abbreviation",
        ["KB-READ-004"],
        lambda t: before_references(
            t, PARA.format("若单位网络划分了 VLAN，请联系网络管理员确认电脑所在的 VLAN。")
        ),
    ),
    # operability
    (
        "command-in-text",
        ["KB-OPS-001"],
        lambda t: before_references(t, PARA.format("最后执行 lpstat -p 查看打印机状态。")),
    ),
    (
        "path-in-text",
        ["KB-OPS-001"],
        lambda t: before_references(
            t, PARA.format("配置保存在 /etc/cups/printers.conf 中，修改前请先备份。")
        ),
    ),
    (
        "long-procedure",
        ["KB-OPS-002"],
        lambda t: before_references(
            t,
            "\n## 完整流程\n\n"
            + "\n".join(
                f"{i}. {step}"
                for i, step in enumerate(
                    [
                        "确认设备电源已接通。",
                        "确认连接线缆牢固。",
                        "打开系统设置。",
                        "进入设备管理页面。",
                        "找到对应的设备。",
                        "查看设备状态。",
                        "记录当前版本号。",
                        "按提示更新设备程序。",
                        "重启电脑。",
                        "再次检查设备状态。",
                    ],
                    start=1,
                )
            )
            + "\n",
        ),
    ),
    (
        "manual-numbering",
        ["KB-OPS-003"],
        lambda t: before_references(
            t, "\n## 补充步骤\n\n1、打开设置窗口。\n\n2、选择设备页面。\n\n3、点击“应用”。\n"
        ),
    ),
    # structure
    (
        "h1-in-body",
        ["KB-STRUCT-004"],
        lambda t: t.replace("\n---\n", "\n---\n\n# 正文中又写了一遍标题\n", 1),
    ),
    (
        "heading-skip",
        ["KB-STRUCT-005"],
        lambda t: before_references(
            t, "\n#### 附加说明\n\n本节补充说明适用范围，其他型号请参考厂商手册。\n"
        ),
    ),
    ("missing-title", ["KB-STRUCT-002"], lambda t: set_meta(t, "title", None)),
    ("bad-type", ["KB-STRUCT-003"], lambda t: set_meta(t, "type", "使用技巧")),
    ("bad-category", ["KB-STRUCT-003"], lambda t: set_meta(t, "category", "网络设备")),
    ("missing-summary", ["KB-STRUCT-013"], lambda t: set_meta(t, "summary", None)),
    ("empty-section", ["KB-STRUCT-009"], lambda t: before_references(t, "\n## 注意事项\n")),
]

HANDWRITTEN: dict[str, tuple[list[str], str]] = {}


def front(title: str, type_: str, category: str, extra: str = "") -> str:
    return (
        f"---\ntitle: {title}\ntype: {type_}\ncategory: {category}\nproducts: [统信UOS 桌面操作系统 V20 专业版 1070]\n"
        f"summary: {title}的说明。\nvisibility: public\nreview_by: 2027-10-31\n{extra}---\n\n"
    )


HANDWRITTEN["ok-hotlines-and-examples"] = (
    [],
    front("服务热线与示例地址的写法", "常见问题", "桌面操作系统")
    + """## 问题

遇到问题时应该联系谁？示例中的地址应该怎么写？

## 解答

请拨打服务热线 400-810-1234 或政务服务热线 12345，也可以发邮件到 service@example.com。

文中的示例地址统一写作 `192.0.2.10`，需要读者填写的内容写作【打印机 IP 地址】。
数据库密码写作【数据库密码】，不要写真实密码。

网络范围 `192.168.0.0/16` 只是举例说明私有地址的范围，不指向任何一台电脑。

以下命令用于查看本机地址，输出中的地址因单位而异：

```bash
ip addr show
```
""",
)
HANDWRITTEN["ok-markup-in-code"] = (
    [],
    front("在代码块中展示网页代码", "技术原理", "浏览器与插件")
    + """## 概述

部分政务网站仍使用旧式写法调用控件（浏览器中运行的小程序，用来读取证书等）。下面的代码只是展示，不会在知识库中执行：

```html
<script src="sign.js"></script>
<img src="seal.png" onerror="reload()">
<a href="javascript:sign()">签章</a>
```

行内代码 `<iframe>` 同样只是文字。旧式写法要用到已经停止支持的浏览器技术，在国产浏览器中无法运行，这也是很多政务网站需要改造的原因。

改造后的网站通过本机运行的服务程序调用证书和签章设备，网页本身只负责显示界面和发送请求，不再直接操作硬件。

这种方式对浏览器没有特殊要求，在不同品牌的国产浏览器中都可以使用，也便于厂商单独升级服务程序。
用户只需要按网站提示安装一次服务程序，以后打开网站时会自动连接，不必每次重新设置。
网站改用本地服务方式后，这些写法都不再需要。浏览器会通过本机上的一个端口（程序之间通信时使用的编号）与控件交换数据，因此安全软件需要放行这个端口。

## 参考资料

- 各浏览器厂商的控件迁移说明
""",
)
HANDWRITTEN["ok-explained-terms"] = (
    [],
    front("固件和驱动的区别", "技术原理", "处理器与固件")
    + """## 概述

驱动是操作系统用来控制硬件的程序，安装在电脑的系统中。固件（固化在硬件芯片里的底层程序）则保存在硬件自己的芯片里，两者是不同的程序。

[UEFI](/glossary#UEFI) 是新一代的开机固件标准。网络时间协议（NTP）用于同步电脑时间。

电脑开机时先运行固件，再由固件引导操作系统启动。操作系统启动以后，再加载各个硬件的驱动，硬件才能正常工作。
升级固件和更新驱动都应使用厂商提供的正式版本，不要从不明来源下载。

固件出了问题，电脑可能无法开机，或者开机后找不到硬盘；驱动出了问题，通常只是某个设备不能用，系统本身还能正常启动。
因此排查故障时，先看电脑能否进入系统：进不了系统，多半要检查固件设置；能进系统但设备不能用，多半要检查驱动。
升级固件有一定风险，升级过程中不能断电，一般应由服务商工程师操作；更新驱动相对简单，普通用户按照说明也可以完成。

## 参考资料

- 各整机厂商的固件升级说明
""",
)
HANDWRITTEN["ok-numbers-that-are-not-personal"] = (
    [],
    front("常见编号的含义", "常见问题", "桌面操作系统")
    + """## 问题

文章里出现的各种编号分别是什么意思？

## 解答

- 系统版本号形如 `20.1070.11068.101`，软件包版本形如 5.10.0-8。
- 工单编号形如 GD20241105001，记录在服务平台中。
- 国家标准编号形如 GB/T 38636-2020，打印机型号形如 M6202NW。
- 网卡的物理地址（网卡出厂时固定的硬件编号）形如 `00:1A:2B:3C:4D:5E`，设备标识形如 `1a86:7523`。
- 网页服务常用 8080 端口，数据库常用 5236 端口，测试时间为 2024-11-05 14:30:00。
- 服务热线 800-820-1234 和 400 810 5678 是单位对外公布的号码，可以写进文章。

遇到不认识的编号时，可以把编号和出现的位置一起提交给服务商，由工程师判断它的含义。
""",
)
HANDWRITTEN["bad-legacy-import"] = (
    ["KB-STRUCT-001", "KB-STRUCT-004", "KB-OPS-003", "KB-LAYOUT-001", "KB-PRIV-001"],
    """# 打印机无法打印的处理方法

现象：点击打印后没有反应。

处理方法如下：

1、检查打印机电源和连接线是否正常。

2、重新启动打印机和电脑后再试一次。

3、仍无法打印时，联系管理员小李，电话 18677123456。

注意：不要自行拆开打印机外壳。
""",
)
HANDWRITTEN["bad-several-privacy"] = (
    ["KB-PRIV-001", "KB-PRIV-004", "KB-PRIV-005"],
    front("打印机共享设置记录", "产品配置", "打印与扫描")
    + """## 设置记录

打印机已共享，地址为 `smb://192.168.1.100/printer`。负责人：王工，手机 +86 138 1234 5678，邮箱 wanggong@qq.com。

完成后请在电脑上打印一张测试页，确认共享打印机可以正常使用。打印测试页时要记录打印机型号和软件版本，以便以后需要重新安装时使用同一版本。
其他同事添加这台打印机时，在系统设置的打印机页面中选择网络打印机，按上面的地址添加即可。添加完成后同样打印一张测试页，确认纸张方向和页边距正确。

## 参考资料

- 打印机随机说明书
""",
)
HANDWRITTEN["bad-faq-without-answer"] = (
    ["KB-STRUCT-006"],
    front("WPS 文档打不开怎么办", "常见问题", "办公软件")
    + """## 背景

部分单位反映，从其他单位收到的文档在 WPS 中无法打开，或打开后内容显示不完整，影响日常办公。这类情况多与文档格式和软件版本有关，需要逐项确认文档来源、保存格式和本机软件版本，再决定处理办法。
""",
)
HANDWRITTEN["bad-guide-without-steps"] = (
    ["KB-STRUCT-006", "KB-STRUCT-007"],
    front("设置默认打印机", "操作指南", "打印与扫描")
    + """## 说明

在系统设置中可以把常用的打印机设为默认打印机。设为默认以后，各个软件打印时都会优先选择这台打印机，不必每次手动选择。
如果单位里有多台打印机，建议把离自己最近的那台设为默认打印机，并在打印前确认纸张充足。
设置默认打印机不会影响其他同事的电脑，每个人可以按自己的习惯设置。更换座位或办公室以后，记得重新设置默认打印机，以免文件打印到别的房间。
""",
)


def main() -> None:
    CASES.mkdir(exist_ok=True)
    for old in CASES.glob("*"):
        old.unlink()
    labels: dict[str, list[str]] = {}
    articles = ROOT / "articles"
    good = {}
    for slug in BASES:
        good[slug] = clean((articles / f"{slug}.md").read_text(encoding="utf-8"))
        name = f"good-{slug}.md"
        (CASES / name).write_text(good[slug], encoding="utf-8")
        labels[name] = []
    for i, (defect, rules, inject) in enumerate(DEFECTS):
        base = BASES[i % len(BASES)]
        text = set_meta(inject(good[base]), "slug", f"case-{defect}")
        name = f"bad-{defect}.md"
        (CASES / name).write_text(text, encoding="utf-8")
        labels[name] = rules
    # near-duplicates of published articles: a lightly edited copy under another slug
    for slug in PUBLISHED:
        text = (articles / f"{slug}.md").read_text(encoding="utf-8")
        body = text.replace("。", "。", 1)
        paragraphs = body.split("\n\n")
        middle = [
            i
            for i, p in enumerate(paragraphs)
            if i > 2 and not p.lstrip().startswith(("#", "-", "1."))
        ]
        del paragraphs[middle[len(middle) // 2]]  # drop one plain paragraph, keep the rest
        edited = set_meta("\n\n".join(paragraphs), "slug", f"copy-of-{slug}")
        edited = clean(edited)
        name = f"bad-duplicate-{slug}.md"
        (CASES / name).write_text(edited, encoding="utf-8")
        labels[name] = ["KB-DUP-001"]
    for key, (rules, text) in HANDWRITTEN.items():
        name = f"{key}.md"
        (CASES / name).write_text(text, encoding="utf-8")
        labels[name] = rules
    (HERE / "labels.json").write_text(
        json.dumps(
            {"today": TODAY, "published": PUBLISHED, "cases": labels}, ensure_ascii=False, indent=1
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(labels)} cases written to {CASES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
