"""A tiny company whose every metric is worked out by hand in tests/test_metrics_golden.py.

October 2026 is the period under test; a few rows sit in September/November to prove the
calendar and cohort rules keep them out (or in).
"""

FILES = {
    "spend.csv": """
        date,channel,campaign,impressions,clicks,cost,reach,vat_included
        2026-09-30,yandex_direct,ya_search,1000,50,5000,,false
        2026-10-01,yandex_direct,ya_search,2000,100,12200,800,true
        2026-10-02,yandex_direct,ya_search,1000,20,2000,400,false
        2026-10-05,vk_ads,vk_retarget,5000,50,3000,2500,false
    """,
    "activities.csv": """
        date,channel,kind,count,cost
        2026-10-03,telegram,post,4,2000
        2026-10-10,telegram,post,6,3000
        2026-11-01,telegram,post,9,9000
    """,
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign,referrer,click_id
        v1,c1,2026-10-01 09:00,yandex,cpc,ya_search,,
        v2,c2,2026-10-01 10:00,yandex,cpc,ya_search,,
        v3,c3,2026-10-02 11:00,vk,cpc,vk_retarget,,
        v4,c4,2026-10-03 12:00,telegram,social,tg_channel,,
        v5,c5,2026-10-04 13:00,,,,,
        v6,c1,2026-10-06 09:00,,,,,
        v7,c6,2026-09-30 23:30,yandex,cpc,ya_search,,
        v8,c7,2026-10-07 10:00,,,,https://www.google.com/,
        v9,c8,2026-10-08 10:00,,,,,yclid:123
    """,
    "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager
        L1,2026-10-01 09:30,c1,yandex,cpc,ya_search,qualified,Anna
        L2,2026-10-06 09:10,c1,,,,new,Boris
        L3,2026-10-02 11:30,c3,vk,cpc,vk_retarget,junk,Anna
        L4,2026-10-03 12:30,c4,,,,qualified,Boris
        L5,2026-10-04 13:30,c5,,,,new,Anna
        L6,2026-10-05 10:00,c99,,,,new,Anna
        L7,2026-09-30 23:45,c6,yandex,cpc,ya_search,qualified,Anna
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount,gross_profit
        D1,L1,2026-10-02 10:00,won,2026-10-10 12:00,50000,20000
        D2,L2,2026-10-07 10:00,won,2026-11-03 12:00,30000,12000
        D3,L4,2026-10-04 10:00,lost,2026-10-20 12:00,10000,
        D4,L7,2026-10-01 10:00,won,2026-10-05 12:00,40000,
        D5,L3,2026-10-03 10:00,open,,15000,
    """,
    "payments.csv": """
        payment_id,paid_at,amount,deal_id
        P1,2026-10-12 10:00,50000,D1
        P2,2026-10-06 10:00,20000,D4
        P3,2026-11-05 10:00,30000,D2
        P4,2026-10-15 10:00,7000,
    """,
}
