"""What the page calls things: English first, the Chinese name beside it, and a colour each.

Every Chinese character the page can show is in this module: the embedded font is a subset made
of exactly these (deploy/fonts/report-font.sh), and a test checks that it covers them all.
"""

TITLE = ("Period summary", "工作总结")

STAGES = {  # in the order a customer moves through them
    "prospect": ("Prospect", "潜在客户", "#9aa5b1"),
    "new": ("New", "新客户", "#4c9be8"),
    "active": ("Active", "活跃客户", "#2e9e6a"),
    "at_risk": ("At risk", "流失风险", "#f0a030"),
    "churned": ("Churned", "已流失", "#d9534f"),
}

TIERS = {  # most valuable first
    "high": ("High value", "高价值", "#6a4cc7"),
    "medium": ("Medium value", "中价值", "#3f8fd2"),
    "low": ("Low value", "低价值", "#8fb8de"),
    "unrated": ("Unrated", "未评级", "#c3cad3"),
}

SURVEYS = {
    "nps": ("NPS", "净推荐值", "#6a4cc7"),
    "csat": ("CSAT", "客户满意度", "#2e9e6a"),
    "ces": ("CES", "客户费力度", "#f0a030"),
}

SECTIONS = {
    "stages-tiers": ("Customers by stage and tier", "客户分布"),
    "moves": ("Moves between stages and tiers", "客户流转"),
    "retention": ("Churn and repeat purchases", "流失与复购"),
    "revenue-clv": ("Revenue and customer lifetime value", "收入与客户终身价值"),
    "surveys": ("NPS, CSAT and CES", "客户体验"),
    "complaints": ("Complaints and SLA compliance", "投诉与服务时效"),
}


def stage_label(stage: str) -> tuple[str, str]:
    english, chinese, _ = STAGES.get(stage, (stage, "", ""))
    return english, chinese


def tier_label(tier: str) -> tuple[str, str]:
    english, chinese, _ = TIERS.get(tier, (tier, "", ""))
    return english, chinese


def cjk_characters() -> str:
    """Every Chinese character above, once, sorted: the text the font subset is made of."""
    names = [TITLE[1]] + [entry[1] for table in (STAGES, TIERS, SURVEYS, SECTIONS) for entry in table.values()]
    return "".join(sorted({char for name in names for char in name if ord(char) > 0x2E7F}))
