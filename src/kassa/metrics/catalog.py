"""Every metric kassa shows, declared once: tier, unit, which direction is better, labels, and how it is
computed — a base measure's rows, summed value and dates, or a derived metric's formula.

The tier is the article's point made explicit:

* ``activity`` — what the marketer *does* (posts, impressions, clicks, CTR, CPC): turning the wheel;
* ``intermediate`` — what the activity brings (visits, leads, qualified leads, conversion rates, CPL);
* ``outcome`` — money: sales, revenue, payments, CAC, ROMI, ROAS, DRR: arriving in St Petersburg.

A metric is either *measured* (a base :class:`Measure` summed from a set of the warehouse's rows,
which :mod:`kassa.metrics.compute` builds) or *derived* by a formula over other metrics
(:mod:`kassa.metrics.formula`). Division by zero or by "no value" gives "no value" (SQL NULL), never
infinity. Everything else — the list of base measures, which of them may have no value, the formulas
``kassa money`` applies to attributed outcomes — is read from here.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kassa.errors import UnknownMetric
from kassa.metrics.formula import Algebra, evaluate, parse
from kassa.metrics.metric import Cover, Measure, Metric, Rows, Tier

__all__ = [
    "ALIASES",
    "CATALOG",
    "Cover",
    "Measure",
    "Metric",
    "Rows",
    "Tier",
    "base_metrics",
    "derived",
    "get_metric",
    "visible_metrics",
    "with_dependencies",
]

# The rows base measures are summed from, each with the date that puts it in a period.
SPEND_ROWS = Rows(name="spend", date="date")
ACTIVITY_ROWS = Rows(name="activities", date="date")
VISIT_ROWS = Rows(name="visits", date="ts")
LEAD_ROWS = Rows(name="leads", date="created_at")
WON_DEAL_ROWS = Rows(name="won_deals", date="closed_at", cohort_date="lead_created_at")
PAYMENT_ROWS = Rows(name="payments", date="paid_at", cohort_date="lead_created_at")
# Won deals of the customers acquired in the period (by the close of their first won deal), within the
# customer horizon of it (settings.customer_horizon_months), credited to the acquisition channel: the
# rows of LTV, in either view (a lifetime is a cohort's by definition).
COHORT_DEAL_ROWS = Rows(name="cohort_deals", date="acquired_at", money_date="closed_at")


ACT, MID, OUT = Tier.ACTIVITY, Tier.INTERMEDIATE, Tier.OUTCOME

_METRICS: list[Metric] = [
    # -- money out ------------------------------------------------------------------------------------------
    Metric(
        name="cost",
        tier=ACT,
        unit="money",
        better="neutral",
        label_en="Ad spend",
        label_ru="Расход на рекламу",
        short_ru="Расход",
        explain_en="What the ad platforms charged (net of VAT unless the settings say otherwise).",
        explain_ru="Сколько списали рекламные системы (без НДС, если в настройках не указано иное).",
        measure=Measure(rows=SPEND_ROWS, column="cost", net_of_vat=True),
    ),
    Metric(
        name="activity_cost",
        tier=ACT,
        unit="money",
        better="neutral",
        label_en="Activity cost",
        label_ru="Стоимость активностей",
        short_en="Act. cost",
        short_ru="Ст. актив.",
        explain_en="What posts, newsletters and videos cost (content, seeding).",
        explain_ru="Сколько стоили посты, рассылки, видео (контент, посевы).",
        measure=Measure(rows=ACTIVITY_ROWS, column="cost"),
    ),
    Metric(
        name="marketing_cost",
        tier=OUT,
        unit="money",
        better="neutral",
        label_en="Marketing cost",
        label_ru="Маркетинговые расходы",
        short_en="Mkt cost",
        short_ru="Мкт-расход",
        explain_en="Ad spend plus activity cost: the base of CPL, CAC, ROMI and DRR.",
        explain_ru="Реклама плюс активности: база для CPL, CAC, ROMI и ДРР.",
        formula="cost + activity_cost",
    ),
    # -- activity -------------------------------------------------------------------------------------------
    Metric(
        name="impressions",
        tier=ACT,
        unit="count",
        better="neutral",
        label_en="Impressions",
        label_ru="Показы",
        short_en="Impr.",
        explain_en="How many times the ads were shown.",
        explain_ru="Сколько раз показали рекламу.",
        measure=Measure(rows=SPEND_ROWS, column="impressions"),
    ),
    Metric(
        name="reach",
        tier=ACT,
        unit="count",
        better="neutral",
        label_en="Reach",
        label_ru="Охват",
        explain_en="People reached, as the platforms report it (summed across campaigns, so an upper bound).",
        explain_ru="Охват по данным площадок (суммируется по кампаниям, то есть оценка сверху).",
        measure=Measure(rows=SPEND_ROWS, column="reach", nullable=True, additive=False),
    ),
    Metric(
        name="clicks",
        tier=ACT,
        unit="count",
        better="neutral",
        label_en="Clicks",
        label_ru="Клики",
        explain_en="Clicks on the ads: pressing the pedal, not arriving.",
        explain_ru="Клики по рекламе: нажатие на педаль, а не приезд.",
        measure=Measure(rows=SPEND_ROWS, column="clicks"),
    ),
    Metric(
        name="ctr",
        tier=ACT,
        unit="percent",
        better="higher",
        label_en="CTR",
        label_ru="CTR",
        explain_en="Clicks per impression. Says the ad is noticed, not that it sells.",
        explain_ru="Клики на показ. Говорит, что рекламу замечают, а не что она продаёт.",
        formula="clicks / impressions",
    ),
    Metric(
        name="cpc",
        tier=ACT,
        unit="money",
        better="lower",
        label_en="CPC",
        label_ru="Цена клика",
        explain_en="Ad spend per click. Cheap clicks that never buy are not a saving.",
        explain_ru="Расход на клик. Дешёвые клики без покупок — не экономия.",
        formula="cost / clicks",
    ),
    Metric(
        name="cpm",
        tier=ACT,
        unit="money",
        better="lower",
        label_en="CPM",
        label_ru="CPM",
        explain_en="Ad spend per thousand impressions.",
        explain_ru="Расход на тысячу показов.",
        formula="cost * 1000 / impressions",
    ),
    Metric(
        name="posts",
        tier=ACT,
        unit="count",
        better="neutral",
        label_en="Publications",
        label_ru="Публикации",
        short_en="Posts",
        short_ru="Публикации",
        explain_en="Posts, newsletters, videos published: turning the wheel.",
        explain_ru="Опубликованные посты, рассылки, видео: «крутить руль».",
        measure=Measure(rows=ACTIVITY_ROWS, column="count"),
    ),
    # -- intermediate ---------------------------------------------------------------------------------------
    Metric(
        name="visits",
        tier=MID,
        unit="count",
        better="higher",
        label_en="Visits",
        label_ru="Визиты",
        explain_en="Sessions on the site from the channel.",
        explain_ru="Визиты на сайт из канала.",
        measure=Measure(rows=VISIT_ROWS),
    ),
    Metric(
        name="leads",
        tier=MID,
        unit="count",
        better="higher",
        label_en="Leads",
        label_ru="Лиды",
        explain_en="Requests, calls and forms received.",
        explain_ru="Полученные заявки, звонки и формы.",
        measure=Measure(rows=LEAD_ROWS),
    ),
    Metric(
        name="visit_to_lead",
        tier=MID,
        unit="percent",
        better="higher",
        label_en="Visit → lead",
        label_ru="Визит → лид",
        short_en="Visit→lead",
        short_ru="Визит→лид",
        explain_en="Share of visits that became a lead.",
        explain_ru="Доля визитов, ставших лидом.",
        formula="leads / visits",
    ),
    Metric(
        name="cpl",
        tier=MID,
        unit="money",
        better="lower",
        label_en="CPL",
        label_ru="Цена лида",
        short_ru="Цена лида",
        explain_en="Marketing cost per lead. Rewards junk leads if paid alone.",
        explain_ru="Маркетинговые расходы на лид. Поощряет мусорные лиды, если платить только за него.",
        formula="marketing_cost / leads",
    ),
    Metric(
        name="unknown_source_leads",
        tier=MID,
        unit="count",
        better="lower",
        label_en="Leads of unknown source",
        label_ru="Лиды без источника",
        short_en="No source",
        short_ru="Без источ.",
        explain_en="Leads that no click id, cookie, contact or UTM field ties to a channel.",
        explain_ru="Лиды, которые ни click id, ни cookie, ни контакт, ни UTM-метки не связывают с каналом.",
        measure=Measure(rows=LEAD_ROWS, where="channel == 'unknown'"),
        hidden=True,
    ),
    Metric(
        name="unknown_source_share",
        tier=MID,
        unit="percent",
        better="lower",
        label_en="Unknown source share",
        label_ru="Доля лидов без источника",
        short_en="% unknown",
        short_ru="% без ист.",
        explain_en="Share of leads whose channel is unknown: every metric per channel rests only on the "
        "rest.",
        explain_ru="Доля лидов с неизвестным каналом: все метрики по каналам опираются только на остальные.",
        formula="unknown_source_leads / leads",
    ),
    Metric(
        name="qualified_leads",
        tier=MID,
        unit="count",
        better="higher",
        label_en="Qualified leads",
        label_ru="Квалифицированные лиды",
        short_en="Qual leads",
        short_ru="Кв. лиды",
        explain_en="Leads the sales team accepted as real (status qualified, or a deal was opened).",
        explain_ru="Лиды, которые отдел продаж признал целевыми (статус qualified или открыта сделка).",
        measure=Measure(rows=LEAD_ROWS, where="status == 'qualified' or has_deal"),
    ),
    Metric(
        name="cost_per_qualified_lead",
        tier=MID,
        unit="money",
        better="lower",
        label_en="Cost per qualified lead",
        label_ru="Цена квал. лида",
        short_en="CPQL",
        short_ru="Цена кв.",
        explain_en="Marketing cost per qualified lead.",
        explain_ru="Маркетинговые расходы на квалифицированный лид.",
        formula="marketing_cost / qualified_leads",
    ),
    Metric(
        name="lead_to_qualified",
        tier=MID,
        unit="percent",
        better="higher",
        label_en="Lead → qualified",
        label_ru="Лид → квал.",
        short_en="Lead→qual.",
        short_ru="Лид→квал.",
        explain_en="Share of leads that were qualified: lead quality.",
        explain_ru="Доля квалифицированных лидов: качество лидов.",
        formula="qualified_leads / leads",
    ),
    Metric(
        name="qualified_to_sale",
        tier=OUT,
        unit="percent",
        better="higher",
        label_en="Qualified → sale",
        label_ru="Квал. → продажа",
        short_en="Qual.→sale",
        short_ru="Квал.→прод",
        explain_en="Share of qualified leads that bought: how sales handles them.",
        explain_ru="Доля квалифицированных лидов, ставших продажей: работа отдела продаж.",
        formula="sales / qualified_leads",
    ),
    # -- outcome --------------------------------------------------------------------------------------------
    Metric(
        name="sales",
        tier=OUT,
        unit="count",
        better="higher",
        label_en="Sales",
        label_ru="Продажи",
        explain_en="Deals won.",
        explain_ru="Выигранные сделки.",
        measure=Measure(rows=WON_DEAL_ROWS),
    ),
    Metric(
        name="cost_per_sale",
        tier=OUT,
        unit="money",
        better="lower",
        label_en="Cost per sale",
        label_ru="Цена продажи",
        short_en="Cost/sale",
        short_ru="Цена прод.",
        explain_en="Marketing cost per deal won, new customer or not (CAC counts new customers only).",
        explain_ru="Маркетинговые расходы на выигранную сделку, новый это клиент или нет (CAC — только "
        "на новых).",
        formula="marketing_cost / sales",
    ),
    Metric(
        name="revenue",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Revenue",
        label_ru="Выручка",
        explain_en="Amount of the deals won (CRM).",
        explain_ru="Сумма выигранных сделок (CRM).",
        measure=Measure(rows=WON_DEAL_ROWS, column="amount"),
    ),
    Metric(
        name="average_check",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Average check",
        label_ru="Средний чек",
        short_en="Avg check",
        short_ru="Ср. чек",
        explain_en="Revenue per sale.",
        explain_ru="Выручка на продажу.",
        formula="revenue / sales",
    ),
    Metric(
        name="payments",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Payments received",
        label_ru="Поступления",
        short_en="Payments",
        short_ru="Поступл.",
        explain_en="Money that reached the bank account.",
        explain_ru="Деньги, дошедшие до расчётного счёта.",
        measure=Measure(rows=PAYMENT_ROWS, column="amount"),
    ),
    Metric(
        name="paid_revenue",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Paid revenue (bank)",
        label_ru="Оплаченная выручка (банк)",
        short_en="Paid rev.",
        short_ru="Оплачено",
        explain_en="What the bank statement confirms for the deals won: payments matched to them, refunds "
        "deducted, whenever they arrived.",
        explain_ru="Сколько по выигранным сделкам подтверждает банковская выписка: сопоставленные платежи "
        "за вычетом возвратов, когда бы они ни пришли.",
        measure=Measure(rows=WON_DEAL_ROWS, column="paid"),
    ),
    Metric(
        name="unpaid_won",
        tier=OUT,
        unit="money",
        better="lower",
        label_en="Won but unpaid",
        label_ru="Выиграно, но не оплачено",
        short_en="Unpaid",
        short_ru="Не оплач.",
        explain_en="Amount of the deals won that no matched payment covers (yet).",
        explain_ru="Сумма выигранных сделок, которую (пока) не покрывает ни один сопоставленный платёж.",
        measure=Measure(rows=WON_DEAL_ROWS, column="outstanding"),
    ),
    Metric(
        name="gross_profit",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Gross profit",
        label_ru="Валовая прибыль",
        short_en="Gross prof",
        short_ru="Вал. приб.",
        explain_en="Gross profit of the deals won, where the CRM knows it.",
        explain_ru="Валовая прибыль выигранных сделок, если она есть в CRM.",
        measure=Measure(rows=WON_DEAL_ROWS, column="gross_profit", nullable=True),
    ),
    Metric(
        name="margin_missing",
        tier=OUT,
        unit="count",
        better="lower",
        label_en="Sales without margin",
        label_ru="Продажи без маржи",
        short_en="No margin",
        short_ru="Без маржи",
        explain_en="Deals won whose gross profit the CRM does not know: ROMI falls back to revenue while "
        "any is left.",
        explain_ru="Выигранные сделки без валовой прибыли в CRM: пока такие есть, ROMI считается по выручке.",
        measure=Measure(rows=WON_DEAL_ROWS, where="gross_profit is None"),
        hidden=True,
    ),
    Metric(
        name="romi_base",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="ROMI base",
        label_ru="База ROMI",
        explain_en="Gross profit when every sale has a margin, else revenue.",
        explain_ru="Валовая прибыль, если маржа есть у всех продаж, иначе выручка.",
        formula="gross_profit if sales > 0 and margin_missing == 0 else revenue",
        hidden=True,
    ),
    Metric(
        name="romi",
        tier=OUT,
        unit="ratio",
        better="higher",
        label_en="ROMI",
        label_ru="ROMI",
        explain_en="(Gross profit, or revenue without margin data, − marketing cost) / marketing cost.",
        explain_ru="(Валовая прибыль или выручка − маркетинговые расходы) / маркетинговые расходы.",
        formula="(romi_base - marketing_cost) / marketing_cost",
    ),
    Metric(
        name="romi_paid",
        tier=OUT,
        unit="ratio",
        better="higher",
        label_en="ROMI on paid revenue",
        label_ru="ROMI по оплатам",
        short_en="ROMI paid",
        short_ru="ROMI опл.",
        explain_en="(Paid revenue − marketing cost) / marketing cost: ROMI on money the bank confirms.",
        explain_ru="(Оплаченная выручка − маркетинговые расходы) / маркетинговые расходы: ROMI по деньгам, "
        "которые подтвердил банк.",
        formula="(paid_revenue - marketing_cost) / marketing_cost",
    ),
    Metric(
        name="roas",
        tier=OUT,
        unit="ratio",
        better="higher",
        label_en="ROAS",
        label_ru="ROAS",
        explain_en="Revenue per ruble of marketing cost.",
        explain_ru="Выручка на рубль маркетинговых расходов.",
        formula="revenue / marketing_cost",
    ),
    Metric(
        name="drr",
        tier=OUT,
        unit="percent",
        better="lower",
        label_en="DRR",
        label_ru="ДРР",
        explain_en="Marketing cost as a share of revenue (доля рекламных расходов).",
        explain_ru="Доля рекламных расходов в выручке.",
        formula="marketing_cost / revenue",
    ),
    # -- customers (kassa.link.customer_deals: a won deal is new or repeat) ---------------------------------
    Metric(
        name="new_customers",
        tier=OUT,
        unit="count",
        better="higher",
        label_en="New customers",
        label_ru="Новые клиенты",
        short_en="New cust.",
        short_ru="Новые",
        explain_en="Customers whose first won deal is in the period: the deal the channel acquired them with.",
        explain_ru="Клиенты, чья первая выигранная сделка пришлась на период: канал их привлёк.",
        measure=Measure(rows=WON_DEAL_ROWS, where="is_new"),
    ),
    Metric(
        name="repeat_customers",
        tier=OUT,
        unit="count",
        better="higher",
        label_en="Repeat customers",
        label_ru="Повторные клиенты",
        short_en="Repeat",
        short_ru="Повторные",
        explain_en="Customers who bought again in the period (a won deal that is not their first); summed "
        "over channels a customer who came back through two counts in each.",
        explain_ru="Клиенты, купившие в периоде снова (выигранная сделка не первая); в сумме по каналам "
        "клиент, вернувшийся через два канала, считается в каждом.",
        measure=Measure(rows=WON_DEAL_ROWS, where="not is_new", distinct="customer_id", additive=False),
    ),
    Metric(
        name="new_customer_revenue",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Revenue from new customers",
        label_ru="Выручка с новых клиентов",
        short_en="New rev.",
        short_ru="Выр. новые",
        explain_en="Amount of the won deals that were a customer's first.",
        explain_ru="Сумма выигранных сделок, ставших для клиента первыми.",
        measure=Measure(rows=WON_DEAL_ROWS, column="amount", where="is_new"),
    ),
    Metric(
        name="repeat_revenue",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Revenue from repeat purchases",
        label_ru="Выручка с повторных покупок",
        short_en="Repeat rev",
        short_ru="Выр. повт.",
        explain_en="Amount of the won deals of customers who had bought before.",
        explain_ru="Сумма выигранных сделок клиентов, уже покупавших раньше.",
        measure=Measure(rows=WON_DEAL_ROWS, column="amount", where="not is_new"),
    ),
    Metric(
        name="repeat_share",
        tier=OUT,
        unit="percent",
        better="higher",
        label_en="Repeat share of revenue",
        label_ru="Доля повторных в выручке",
        short_en="Rep. share",
        short_ru="Доля повт.",
        explain_en="Share of the revenue that came from customers buying again.",
        explain_ru="Доля выручки от клиентов, купивших снова.",
        formula="repeat_revenue / revenue",
    ),
    Metric(
        name="cac",
        tier=OUT,
        unit="money",
        better="lower",
        label_en="CAC",
        label_ru="CAC",
        explain_en="Marketing cost per new customer: what acquiring one cost. A repeat sale is not an "
        "acquisition.",
        explain_ru="Маркетинговые расходы на нового клиента: сколько стоило привлечь одного. Повторная "
        "продажа — не привлечение.",
        formula="marketing_cost / new_customers",
    ),
    Metric(
        name="cohort_customers",
        tier=OUT,
        unit="count",
        better="higher",
        label_en="Customers acquired (cohort)",
        label_ru="Привлечённые клиенты (когорта)",
        short_en="Cohort",
        short_ru="Когорта",
        explain_en="Customers acquired in the period, counted by their acquisition channel: LTV's divisor.",
        explain_ru="Клиенты, привлечённые в периоде, по каналу привлечения: делитель LTV.",
        measure=Measure(rows=COHORT_DEAL_ROWS, where="is_new"),
        hidden=True,
    ),
    Metric(
        name="cohort_revenue",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Cohort revenue",
        label_ru="Выручка когорты",
        short_en="Cohort rev",
        short_ru="Выр. ког.",
        explain_en="Revenue of the customers acquired in the period within the horizon.",
        explain_ru="Выручка клиентов, привлечённых в периоде, за горизонт.",
        measure=Measure(rows=COHORT_DEAL_ROWS, column="amount"),
        hidden=True,
    ),
    Metric(
        name="cohort_gross_profit",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="Cohort gross profit",
        label_ru="Валовая прибыль когорты",
        short_en="Cohort GP",
        short_ru="ВП когорты",
        explain_en="Gross profit of the customers acquired in the period within the horizon.",
        explain_ru="Валовая прибыль клиентов, привлечённых в периоде, за горизонт.",
        measure=Measure(rows=COHORT_DEAL_ROWS, column="gross_profit", nullable=True),
        hidden=True,
    ),
    Metric(
        name="cohort_margin_missing",
        tier=OUT,
        unit="count",
        better="lower",
        label_en="Cohort sales without margin",
        label_ru="Продажи когорты без маржи",
        short_en="No margin",
        short_ru="Без маржи",
        explain_en="Won deals of the cohort without gross profit: LTV falls back to revenue while any is left.",
        explain_ru="Выигранные сделки когорты без валовой прибыли: пока такие есть, LTV считается по выручке.",
        measure=Measure(rows=COHORT_DEAL_ROWS, where="gross_profit is None"),
        hidden=True,
    ),
    Metric(
        name="cohort_open_customers",
        tier=OUT,
        unit="count",
        better="neutral",
        label_en="Customers within the horizon",
        label_ru="Клиенты внутри горизонта",
        short_en="Open",
        short_ru="Открытые",
        explain_en="Customers of the cohort whose horizon has not ended by the last date of the data: their "
        "LTV so far is a lower bound (≥), never extrapolated.",
        explain_ru="Клиенты когорты, чей горизонт ещё не закончился к последней дате данных: их LTV пока — "
        "оценка снизу (≥), без экстраполяции.",
        measure=Measure(rows=COHORT_DEAL_ROWS, where="is_new and horizon_open"),
        hidden=True,
    ),
    Metric(
        name="ltv_base",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="LTV base",
        label_ru="База LTV",
        explain_en="The cohort's gross profit when every one of its sales has a margin, else its revenue.",
        explain_ru="Валовая прибыль когорты, если маржа есть у всех её продаж, иначе выручка.",
        formula="cohort_gross_profit if cohort_customers > 0 and cohort_margin_missing == 0 else cohort_revenue",
        hidden=True,
    ),
    Metric(
        name="ltv",
        tier=OUT,
        unit="money",
        better="higher",
        label_en="LTV",
        label_ru="LTV",
        explain_en="Gross profit (revenue when margins are unknown) per customer acquired in the period, "
        "over the horizon (12 months unless set) from their first purchase.",
        explain_ru="Валовая прибыль (выручка, если маржа неизвестна) на клиента, привлечённого в периоде, "
        "за горизонт (12 месяцев, если не задано) с первой покупки.",
        formula="ltv_base / cohort_customers",
    ),
    Metric(
        name="ltv_to_cac",
        tier=OUT,
        unit="ratio",
        better="higher",
        label_en="LTV / CAC",
        label_ru="LTV / CAC",
        explain_en="What a new customer is worth per ruble their acquisition cost; below 1 never pays back.",
        explain_ru="Ценность нового клиента на рубль затрат на его привлечение; ниже 1 не окупается.",
        formula="ltv / cac",
    ),
    Metric(
        name="payback_months",
        tier=OUT,
        unit="count",
        better="lower",
        label_en="Payback (months)",
        label_ru="Окупаемость (мес.)",
        short_en="Payback",
        short_ru="Окуп., мес",
        explain_en="Months until the cumulative gross profit (revenue when margins are unknown, as LTV) of "
        "the customers acquired in the period covers its marketing cost: 1 when the month of acquisition "
        'already does; "not yet" when no month seen within the horizon does.',
        explain_ru="Через сколько месяцев накопленная валовая прибыль (выручка, если маржа неизвестна, как "
        "в LTV) клиентов, привлечённых в периоде, покрывает его маркетинговые расходы: 1, если уже месяц "
        "привлечения; «ещё нет», если ни один месяц внутри горизонта не покрывает.",
        cover=Cover(
            cost="marketing_cost", gain="ltv_base", needs=("cohort_customers", "cohort_margin_missing")
        ),
    ),
]

CATALOG: dict[str, Metric] = {m.name: m for m in _METRICS}
if len(CATALOG) != len(_METRICS):
    raise ValueError("a metric is declared twice in the catalog")

# Synonyms people type; they resolve to one declared metric.
ALIASES = {"spend": "cost", "cpql": "cost_per_qualified_lead", "activity": "posts"}


def get_metric(name: str) -> Metric:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in CATALOG:
        shown = ", ".join(m.name for m in _METRICS if not m.hidden)
        raise UnknownMetric(f"unknown metric {name!r}; metrics: {shown}")
    return CATALOG[key]


def visible_metrics() -> list[Metric]:
    return [m for m in _METRICS if not m.hidden]


def base_metrics() -> list[Metric]:
    """The measured metrics, in catalog order: what the compute layer sums from the warehouse."""
    return [m for m in _METRICS if m.measure is not None]


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


# A price per unit — CPC, CPM, CPL, cost per qualified lead, CAC — of a channel nobody paid for is not 0:
# it is undefined ("—"). SEO's leads did not cost nothing; their cost is simply not booked as marketing.
COSTS = frozenset({"cost", "marketing_cost"})


def is_price_per_unit(m: Metric) -> bool:
    """Whether ``m`` is a cost divided by something: a money formula ``cost… / x`` (CPM: ``cost * 1000 / x``)."""
    if m.unit != "money" or m.formula is None:
        return False
    top = parse(m.formula).body
    if not (isinstance(top, ast.BinOp) and isinstance(top.op, ast.Div)):
        return False
    return any(isinstance(n, ast.Name) and n.id in COSTS for n in ast.walk(top.left))


def _no_cost_no_price(algebra: Algebra) -> Algebra:
    """``algebra`` whose division gives "no value" when the cost divided is 0, as for a division by 0."""
    return replace(algebra, divide=lambda a, b: algebra.divide(algebra.choose(a != 0, a, None), b))


def derived(
    names: list[str],
    values: Mapping[str, Any],
    algebra: Algebra,
    finish: Callable[[Any], Any] = lambda v: v,
) -> dict[str, Any]:
    """``values`` plus the metrics ``names`` and every metric their formulas need that ``values`` lacks,
    each by its catalog formula (``finish`` applied to each, e.g. a cast)."""
    out = dict(values)
    for n in with_dependencies(names):
        m = CATALOG[n]
        if m.formula is not None and n not in out:
            how = _no_cost_no_price(algebra) if is_price_per_unit(m) else algebra
            out[n] = finish(evaluate(m.formula, out, how))
    return out
