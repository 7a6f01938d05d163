"""Every metric kassa shows, declared once: tier, unit, which direction is better, formula, labels.

The tier is the article's point made explicit:

* ``activity`` — what the marketer *does* (posts, impressions, clicks, CTR, CPC): turning the wheel;
* ``intermediate`` — what the activity brings (visits, leads, qualified leads, conversion rates, CPL);
* ``outcome`` — money: sales, revenue, payments, CAC, ROMI, ROAS, DRR: arriving in St Petersburg.

A metric is either *measured* (a base measure summed from a canonical table, see
:mod:`kassa.metrics.compute`) or *derived* by a formula over other metrics. Formulas are plain
arithmetic over metric names; division by zero or by "no value" gives "no value" (SQL NULL),
never infinity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from kassa.errors import UnknownMetric


class Tier(StrEnum):
    ACTIVITY = "activity"
    INTERMEDIATE = "intermediate"
    OUTCOME = "outcome"


Unit = Literal["money", "count", "ratio", "percent"]
Better = Literal["higher", "lower", "neutral"]


@dataclass(frozen=True)
class Metric:
    """One declared metric.

    ``formula`` is ``None`` for a base measure; otherwise arithmetic over other metric names
    (``+ - * /``, numbers, parentheses). ``hidden`` metrics are internal steps not shown to people.
    """

    name: str
    tier: Tier
    unit: Unit
    better: Better
    label_en: str
    label_ru: str
    explain_en: str
    explain_ru: str
    formula: str | None = None
    hidden: bool = False
    additive: bool = True  # base measures: may be summed across groups

    def label(self, lang: str = "en") -> str:
        return self.label_ru if lang == "ru" else self.label_en

    def explain(self, lang: str = "en") -> str:
        return self.explain_ru if lang == "ru" else self.explain_en

    def short(self, lang: str = "en") -> str:
        """A column header of at most 10 characters (stand-in until the catalog declares its own)."""
        en, ru = _SHORT.get(self.name, (self.label_en, self.label_ru))
        return ru if lang == "ru" else en

    @property
    def depends_on(self) -> list[str]:
        return [] if self.formula is None else formula_names(self.formula)


# Column headers for labels longer than 10 characters (stand-in; see Metric.short).
_SHORT = {
    "cost": ("Ad spend", "Реклама"),
    "activity_cost": ("Act. cost", "Активности"),
    "marketing_cost": ("Mkt cost", "Расходы"),
    "impressions": ("Impr.", "Показы"),
    "posts": ("Posts", "Публикации"),
    "visit_to_lead": ("Visit→lead", "Визит→лид"),
    "unknown_source_leads": ("Unknown", "Неизв."),
    "unknown_source_share": ("Unknown %", "Неизв. %"),
    "qualified_leads": ("Qualified", "Квал. лиды"),
    "cost_per_qualified_lead": ("CPQL", "Цена квал."),
    "lead_to_qualified": ("Lead→qual.", "Лид→квал."),
    "qualified_to_sale": ("Qual.→sale", "Квал.→прод"),
    "cost_per_sale": ("CAC", "CAC"),
    "average_check": ("Avg check", "Ср. чек"),
    "payments": ("Payments", "Поступл."),
    "paid_revenue": ("Paid rev.", "Оплачено"),
    "unpaid_won": ("Unpaid", "Не оплач."),
    "gross_profit": ("Profit", "Прибыль"),
    "romi_paid": ("ROMI paid", "ROMI опл."),
}

ACT, MID, OUT = Tier.ACTIVITY, Tier.INTERMEDIATE, Tier.OUTCOME

_METRICS: list[Metric] = [
    # -- money out ---------------------------------------------------------------------------------
    Metric(
        "cost",
        ACT,
        "money",
        "neutral",
        "Ad spend",
        "Расход на рекламу",
        "What the ad platforms charged (net of VAT unless the settings say otherwise).",
        "Сколько списали рекламные системы (без НДС, если в настройках не указано иное).",
    ),
    Metric(
        "activity_cost",
        ACT,
        "money",
        "neutral",
        "Activity cost",
        "Стоимость активностей",
        "What posts, newsletters and videos cost (content, seeding).",
        "Сколько стоили посты, рассылки, видео (контент, посевы).",
    ),
    Metric(
        "marketing_cost",
        OUT,
        "money",
        "neutral",
        "Marketing cost",
        "Маркетинговые расходы",
        "Ad spend plus activity cost: the base of CPL, CAC, ROMI and DRR.",
        "Реклама плюс активности: база для CPL, CAC, ROMI и ДРР.",
        formula="cost + activity_cost",
    ),
    # -- activity ----------------------------------------------------------------------------------
    Metric(
        "impressions",
        ACT,
        "count",
        "neutral",
        "Impressions",
        "Показы",
        "How many times the ads were shown.",
        "Сколько раз показали рекламу.",
    ),
    Metric(
        "reach",
        ACT,
        "count",
        "neutral",
        "Reach",
        "Охват",
        "People reached, as the platforms report it (summed across campaigns, so an upper bound).",
        "Охват по данным площадок (суммируется по кампаниям, то есть оценка сверху).",
    ),
    Metric(
        "clicks",
        ACT,
        "count",
        "neutral",
        "Clicks",
        "Клики",
        "Clicks on the ads: pressing the pedal, not arriving.",
        "Клики по рекламе: нажатие на педаль, а не приезд.",
    ),
    Metric(
        "ctr",
        ACT,
        "percent",
        "higher",
        "CTR",
        "CTR",
        "Clicks per impression. Says the ad is noticed, not that it sells.",
        "Клики на показ. Говорит, что рекламу замечают, а не что она продаёт.",
        formula="clicks / impressions",
    ),
    Metric(
        "cpc",
        ACT,
        "money",
        "lower",
        "CPC",
        "Цена клика",
        "Ad spend per click. Cheap clicks that never buy are not a saving.",
        "Расход на клик. Дешёвые клики без покупок — не экономия.",
        formula="cost / clicks",
    ),
    Metric(
        "cpm",
        ACT,
        "money",
        "lower",
        "CPM",
        "CPM",
        "Ad spend per thousand impressions.",
        "Расход на тысячу показов.",
        formula="cost * 1000 / impressions",
    ),
    Metric(
        "posts",
        ACT,
        "count",
        "neutral",
        "Publications",
        "Публикации",
        "Posts, newsletters, videos published: turning the wheel.",
        "Опубликованные посты, рассылки, видео: «крутить руль».",
    ),
    # -- intermediate ------------------------------------------------------------------------------
    Metric(
        "visits",
        MID,
        "count",
        "higher",
        "Visits",
        "Визиты",
        "Sessions on the site from the channel.",
        "Визиты на сайт из канала.",
    ),
    Metric(
        "leads",
        MID,
        "count",
        "higher",
        "Leads",
        "Лиды",
        "Requests, calls and forms received.",
        "Полученные заявки, звонки и формы.",
    ),
    Metric(
        "visit_to_lead",
        MID,
        "percent",
        "higher",
        "Visit → lead",
        "Визит → лид",
        "Share of visits that became a lead.",
        "Доля визитов, ставших лидом.",
        formula="leads / visits",
    ),
    Metric(
        "cpl",
        MID,
        "money",
        "lower",
        "CPL",
        "Цена лида",
        "Marketing cost per lead. Rewards junk leads if paid alone.",
        "Маркетинговые расходы на лид. Поощряет мусорные лиды, если платить только за него.",
        formula="marketing_cost / leads",
    ),
    Metric(
        "unknown_source_leads",
        MID,
        "count",
        "lower",
        "Leads of unknown source",
        "Лиды без источника",
        "Leads that no click id, cookie, contact or UTM field ties to a channel.",
        "Лиды, которые ни click id, ни cookie, ни контакт, ни UTM-метки не связывают с каналом.",
        hidden=True,
    ),
    Metric(
        "unknown_source_share",
        MID,
        "percent",
        "lower",
        "Unknown source share",
        "Доля лидов без источника",
        "Share of leads whose channel is unknown: every metric per channel rests only on the rest.",
        "Доля лидов с неизвестным каналом: все метрики по каналам опираются только на остальные.",
        formula="unknown_source_leads / leads",
    ),
    Metric(
        "qualified_leads",
        MID,
        "count",
        "higher",
        "Qualified leads",
        "Квалифицированные лиды",
        "Leads the sales team accepted as real (status qualified, or a deal was opened).",
        "Лиды, которые отдел продаж признал целевыми (статус qualified или открыта сделка).",
    ),
    Metric(
        "cost_per_qualified_lead",
        MID,
        "money",
        "lower",
        "Cost per qualified lead",
        "Цена квал. лида",
        "Marketing cost per qualified lead.",
        "Маркетинговые расходы на квалифицированный лид.",
        formula="marketing_cost / qualified_leads",
    ),
    Metric(
        "lead_to_qualified",
        MID,
        "percent",
        "higher",
        "Lead → qualified",
        "Лид → квал.",
        "Share of leads that were qualified: lead quality.",
        "Доля квалифицированных лидов: качество лидов.",
        formula="qualified_leads / leads",
    ),
    Metric(
        "qualified_to_sale",
        OUT,
        "percent",
        "higher",
        "Qualified → sale",
        "Квал. → продажа",
        "Share of qualified leads that bought: how sales handles them.",
        "Доля квалифицированных лидов, ставших продажей: работа отдела продаж.",
        formula="sales / qualified_leads",
    ),
    # -- outcome -----------------------------------------------------------------------------------
    Metric("sales", OUT, "count", "higher", "Sales", "Продажи", "Deals won.", "Выигранные сделки."),
    Metric(
        "cost_per_sale",
        OUT,
        "money",
        "lower",
        "Cost per sale (CAC)",
        "Цена продажи (CAC)",
        "Marketing cost per deal won.",
        "Маркетинговые расходы на выигранную сделку.",
        formula="marketing_cost / sales",
    ),
    Metric(
        "revenue",
        OUT,
        "money",
        "higher",
        "Revenue",
        "Выручка",
        "Amount of the deals won (CRM).",
        "Сумма выигранных сделок (CRM).",
    ),
    Metric(
        "average_check",
        OUT,
        "money",
        "higher",
        "Average check",
        "Средний чек",
        "Revenue per sale.",
        "Выручка на продажу.",
        formula="revenue / sales",
    ),
    Metric(
        "payments",
        OUT,
        "money",
        "higher",
        "Payments received",
        "Поступления",
        "Money that reached the bank account.",
        "Деньги, дошедшие до расчётного счёта.",
    ),
    Metric(
        "paid_revenue",
        OUT,
        "money",
        "higher",
        "Paid revenue (bank)",
        "Оплаченная выручка (банк)",
        "What the bank statement confirms for the deals won: payments matched to them, refunds deducted, "
        "whenever they arrived.",
        "Сколько по выигранным сделкам подтверждает банковская выписка: сопоставленные платежи за вычетом "
        "возвратов, когда бы они ни пришли.",
    ),
    Metric(
        "unpaid_won",
        OUT,
        "money",
        "lower",
        "Won but unpaid",
        "Выиграно, но не оплачено",
        "Amount of the deals won that no matched payment covers (yet).",
        "Сумма выигранных сделок, которую (пока) не покрывает ни один сопоставленный платёж.",
    ),
    Metric(
        "gross_profit",
        OUT,
        "money",
        "higher",
        "Gross profit",
        "Валовая прибыль",
        "Gross profit of the deals won, where the CRM knows it.",
        "Валовая прибыль выигранных сделок, если она есть в CRM.",
    ),
    Metric(
        "romi_base",
        OUT,
        "money",
        "higher",
        "ROMI base",
        "База ROMI",
        "Gross profit when every sale has a margin, else revenue.",
        "Валовая прибыль, если маржа есть у всех продаж, иначе выручка.",
        hidden=True,
        additive=False,
    ),
    Metric(
        "romi",
        OUT,
        "ratio",
        "higher",
        "ROMI",
        "ROMI",
        "(Gross profit, or revenue without margin data, − marketing cost) / marketing cost.",
        "(Валовая прибыль или выручка − маркетинговые расходы) / маркетинговые расходы.",
        formula="(romi_base - marketing_cost) / marketing_cost",
    ),
    Metric(
        "romi_paid",
        OUT,
        "ratio",
        "higher",
        "ROMI on paid revenue",
        "ROMI по оплатам",
        "(Paid revenue − marketing cost) / marketing cost: ROMI on money the bank confirms.",
        "(Оплаченная выручка − маркетинговые расходы) / маркетинговые расходы: ROMI по деньгам, "
        "которые подтвердил банк.",
        formula="(paid_revenue - marketing_cost) / marketing_cost",
    ),
    Metric(
        "roas",
        OUT,
        "ratio",
        "higher",
        "ROAS",
        "ROAS",
        "Revenue per ruble of marketing cost.",
        "Выручка на рубль маркетинговых расходов.",
        formula="revenue / marketing_cost",
    ),
    Metric(
        "drr",
        OUT,
        "percent",
        "lower",
        "DRR",
        "ДРР",
        "Marketing cost as a share of revenue (доля рекламных расходов).",
        "Доля рекламных расходов в выручке.",
        formula="marketing_cost / revenue",
    ),
]

CATALOG: dict[str, Metric] = {m.name: m for m in _METRICS}

# Synonyms people type; they resolve to one declared metric.
ALIASES = {"cac": "cost_per_sale", "spend": "cost", "cpql": "cost_per_qualified_lead", "activity": "posts"}


def get_metric(name: str) -> Metric:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in CATALOG:
        shown = ", ".join(m.name for m in _METRICS if not m.hidden)
        raise UnknownMetric(f"unknown metric {name!r}; metrics: {shown}")
    return CATALOG[key]


def visible_metrics() -> list[Metric]:
    return [m for m in _METRICS if not m.hidden]


def formula_names(formula: str) -> list[str]:
    tree = ast.parse(formula, mode="eval")
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})


def evaluate(formula: str, values: Mapping[str, Any], divide: Callable[[Any, Any], Any]) -> Any:
    """Evaluate a formula over ``values`` (Ibis columns, floats…); ``divide`` decides x / 0.

    Only numbers, names, parentheses and ``+ - * /`` are allowed, so a formula can never run code.
    """

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return divide(a, b)
        raise ValueError(f"unsupported syntax in formula {formula!r}")

    return ev(ast.parse(formula, mode="eval"))


def with_dependencies(names: list[str]) -> list[str]:
    """The metrics and every metric their formulas need, dependencies first."""
    order: list[str] = []

    def visit(n: str) -> None:
        if n in order:
            return
        for d in CATALOG[n].depends_on:
            visit(d)
        order.append(n)

    for n in names:
        visit(get_metric(n).name)
    return order
