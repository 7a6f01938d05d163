"""A tiny company of repeat customers, every figure worked out by hand in tests/test_customers_golden.py.

Customer horizon: 3 months (the settings the tests use). The last date in the data is 2026-04-20 (PE1),
so the January cohort's horizon (January … March) is over and the February and March ones are open.

Customers, and how kassa recognises each:

* A — leads A1 (yandex) and A2 (vk) share only a phone, written two ways: **phone only**. DA1 (January)
  is A's first purchase; DA2 (vk, also January) a **repeat in the month of acquisition**; DA3 (April) is
  past A's 3-month horizon.
* B — leads B1 (yandex) and B2 (vk) share nothing; DB1 and DB2 were paid from one INN: **INN only**.
* C — leads C1 and C2 carry the same CRM contact id (``customer_id``): DC1 January, DC2 March (repeat).
* E — lead E1, DE1 in March without gross profit: the March cohort's LTV is on revenue, and partial.
* F — lead F1 (vk), DF1 in February: the February cohort is partial and never pays back its cost.

vk_ads in January sold only DA2, a repeat: no new customer, so its CAC is "—" though its cost per sale
is 10 000.
"""

FILES = {
    "spend.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-01-10,yandex_direct,ya,1000,100,100000
        2026-01-10,vk_ads,vk,1000,100,10000
        2026-02-10,vk_ads,vk,1000,100,6000
        2026-03-10,yandex_direct,ya,1000,100,9000
    """,
    "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone,email,customer_id
        A1,2026-01-03 10:00,cA1,yandex,cpc,ya,qualified,+7 900 111-11-11,,
        A2,2026-01-20 10:00,cA2,vk,cpc,vk,qualified,8 (900) 111-11-11,,
        B1,2026-01-05 10:00,cB1,yandex,cpc,ya,qualified,,,
        B2,2026-02-15 10:00,cB2,vk,cpc,vk,qualified,,,
        C1,2026-01-07 10:00,cC1,yandex,cpc,ya,qualified,,,amo:contact:9
        C2,2026-03-02 10:00,cC2,yandex,cpc,ya,qualified,,,amo:contact:9
        E1,2026-03-05 10:00,cE1,yandex,cpc,ya,qualified,,,
        F1,2026-02-01 10:00,cF1,vk,cpc,vk,qualified,,,
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount,gross_profit
        DA1,A1,2026-01-04 10:00,won,2026-01-10 10:00,100000,40000
        DA2,A2,2026-01-21 10:00,won,2026-01-25 10:00,20000,8000
        DA3,A1,2026-03-20 10:00,won,2026-04-05 10:00,10000,4000
        DB1,B1,2026-01-06 10:00,won,2026-01-15 10:00,50000,20000
        DB2,B2,2026-02-16 10:00,won,2026-02-20 10:00,30000,12000
        DC1,C1,2026-01-08 10:00,won,2026-01-20 10:00,60000,24000
        DC2,C2,2026-03-03 10:00,won,2026-03-10 10:00,40000,16000
        DE1,E1,2026-03-06 10:00,won,2026-03-15 10:00,70000,
        DF1,F1,2026-02-02 10:00,won,2026-02-05 10:00,5000,1000
    """,
    "payments.csv": """
        payment_id,paid_at,amount,deal_id,payer_inn
        PB1,2026-01-16 10:00,50000,DB1,7707083893
        PB2,2026-02-21 10:00,30000,DB2,7707083893
        PE1,2026-04-20 10:00,70000,DE1,
    """,
}
