"""A small shop whose October 2026 report is worked out by hand.

October 2026 (the period under test); September 2026 is the previous period and the first month of the trend.

================  =================  ==============  ==========
October           yandex_direct      vk_ads          telegram
================  =================  ==============  ==========
marketing cost    25 000             25 000          5 000 (10 posts)
impressions       10 000             40 000          —
clicks            250                1 000           —
visits            4                  5               1
leads             3 (L1 L2 L3)       3 (L4 L5 L6)    1 (L7)
qualified         2 (L1 L2)          1 (L6)          0
sales             2 (D1 D2)          1 (D3)          0
revenue           240 000            30 000          0
payments          150 000 (P1)       30 000 (P2)     0
================  =================  ==============  ==========

September: yandex 20 000 cost, 10 000 impressions, 200 clicks, 2 visits, lead L8 (qualified, won D4 100 000,
paid P3); vk 12 000 cost, 20 000 impressions, 400 clicks, 2 visits, leads L9 L10 (qualified, won D5 50 000 and
D6 40 000). So September: marketing cost 32 000, clicks 600, impressions 30 000, qualified leads 3,
revenue 190 000, payments 100 000.
"""

from __future__ import annotations

FILES = {
    "spend.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-09-10,yandex_direct,ya_search,10000,200,20000
        2026-10-10,yandex_direct,ya_search,10000,250,25000
        2026-09-12,vk_ads,vk_lookalike,20000,400,12000
        2026-10-12,vk_ads,vk_lookalike,40000,1000,25000
    """,
    "activities.csv": """
        date,channel,kind,count,cost
        2026-10-03,telegram,post,10,5000
    """,
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
        s1,c8,2026-09-10 10:00,yandex,cpc,ya_search
        s2,c80,2026-09-11 10:00,yandex,cpc,ya_search
        s3,c9,2026-09-12 10:00,vk,cpc,vk_lookalike
        s4,c10,2026-09-13 10:00,vk,cpc,vk_lookalike
        v1,c1,2026-10-01 10:00,yandex,cpc,ya_search
        v2,c2,2026-10-02 10:00,yandex,cpc,ya_search
        v3,c3,2026-10-03 10:00,yandex,cpc,ya_search
        v4,c30,2026-10-04 10:00,yandex,cpc,ya_search
        v5,c4,2026-10-05 10:00,vk,cpc,vk_lookalike
        v6,c5,2026-10-06 10:00,vk,cpc,vk_lookalike
        v7,c6,2026-10-07 10:00,vk,cpc,vk_lookalike
        v8,c60,2026-10-08 10:00,vk,cpc,vk_lookalike
        v9,c61,2026-10-09 10:00,vk,cpc,vk_lookalike
        v10,c7,2026-10-10 10:00,telegram,social,tg_posts
    """,
    "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
        L8,2026-09-10 10:30,c8,yandex,cpc,ya_search,qualified
        L9,2026-09-12 10:30,c9,vk,cpc,vk_lookalike,qualified
        L10,2026-09-13 10:30,c10,vk,cpc,vk_lookalike,qualified
        L1,2026-10-01 10:30,c1,yandex,cpc,ya_search,qualified
        L2,2026-10-02 10:30,c2,yandex,cpc,ya_search,qualified
        L3,2026-10-03 10:30,c3,yandex,cpc,ya_search,new
        L4,2026-10-05 10:30,c4,vk,cpc,vk_lookalike,junk
        L5,2026-10-06 10:30,c5,vk,cpc,vk_lookalike,junk
        L6,2026-10-07 10:30,c6,vk,cpc,vk_lookalike,qualified
        L7,2026-10-10 10:30,c7,telegram,social,tg_posts,new
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount
        D4,L8,2026-09-11 10:00,won,2026-09-20 10:00,100000
        D5,L9,2026-09-13 10:00,won,2026-09-25 10:00,50000
        D6,L10,2026-09-14 10:00,won,2026-09-26 10:00,40000
        D1,L1,2026-10-02 10:00,won,2026-10-15 10:00,150000
        D2,L2,2026-10-03 10:00,won,2026-10-16 10:00,90000
        D3,L6,2026-10-08 10:00,won,2026-10-20 10:00,30000
    """,
    "payments.csv": """
        payment_id,paid_at,amount,deal_id
        P3,2026-09-22 10:00,100000,D4
        P1,2026-10-20 10:00,150000,D1
        P2,2026-10-25 10:00,30000,D3
    """,
}

# Two contracts for the shop's October, scored by hand in tests/report/test_report_issue3.py.
PAYS_FOR_CLICKS = """
name: Pays for clicks
kpis:
  - {metric: clicks, target: 1000, weight: 0.5, cap: 1.0}
  - {metric: ctr, target: 0.02, weight: 0.5, cap: 1.0}
bonus: {base: 50000, gate: {metric: ctr, min: 0.01}}
"""

PAYS_FOR_MONEY = """
name: Pays for money
kpis:
  - {metric: qualified_leads, target: 6, weight: 0.5}
  - {metric: revenue, target: 300000, weight: 0.5}
bonus: {base: 50000, gate: {metric: romi, min: 1.0}}
"""
