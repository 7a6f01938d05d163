"""A small company whose money trail is worked out by hand in the tests of tests/link/.

October 2026 is the period under test. What each row is for:

Visits (cookie, time, source):
  v1 c1 10-01 yandex cpc ya_search, click yclid:111     v2 c1 10-03 vk cpc vk_retarget
  v3 c2 10-02 google cpc g_search                        v4 c2 10-04 direct
  v5 c3 10-05 direct                                     v6 c4 09-20 telegram social tg_post
  v7 c9 10-06 click yclid:999 only                       v8 c7 06-01 vk cpc (beyond 90 days of A9)

Leads and how each is linked to a visit:
  A1 c1 click yclid:111          -> click_id v1 yandex_direct (beats the later vk visit v2)
  A2 c2, own UTM partner/referral -> client_id v3 google_ads (a marketing visit beats the lead's UTM)
  A3 c3                          -> client_id v5 direct (only a direct visit)
  A4 no cookie, phone P          -> contact: A5 has phone P and cookie c4 -> v6 telegram
  A5 c4, phone P (September)     -> client_id v6 telegram
  A6 c5 (no visits), UTM vk/cpc  -> lead_utm vk_ads / vk_leadform
  A7 c6 (no visits, no UTM)      -> none: unknown
  A8 no cookie, click yclid:999  -> click_id v7 yandex_direct; cookie c9 joins A8's customer
  A9 c7, only a June visit       -> none: unknown (v8 is outside the lookback window)
  A10 c10 (2025)                 -> none: unknown
  Customers: A4 and A5 share a phone -> customer "A4"; every other lead is its own customer.

Deals (won unless said) and the payments that pay them:
  D1  A1 10-10 50 000 inv 123   P1  10-11 50 000 "Оплата по счету № 123 от 01.10.2026" (purpose_invoice;
                                    D18 of 2025 has invoice 123 too: the nearer deal wins)
  D2  A2 10-12 30 000 inv 101   P2  10-13 50 000 "Оплата по счетам № 101, 102 от 12.10.2026": split
  D3  A3 10-12 20 000 inv 102       30 000 / 20 000 by the deals' amounts (purpose_invoice)
  D4  A4 10-15 40 000 inv 55    P3  10-15 20 000 "Оплата по счету 55 от 15.10.2026 (аванс 50%)" and
                                P4  10-17 20 000 "Доплата по счету №55": paid in two parts
  D5  A5 09-25 10 000           P5  09-26 10 000 deal_id D5, INN 7701234567 (deal_id)
  D6  A4 10-20 15 000           P6  10-22 15 000 INN 7701234567 "Оплата за товар": inn_amount, the INN
                                    learned from P5 of the same customer (A4 = A5)
  D7  A6 10-18 12 345.67        P7  10-19 12 345.67 "Оплата по договору 12/2026 от 05.10.2026": amount_date
  D8  A8 10-21 8 000 inv 77     never paid: unpaid
  D9  A1 10-25 7 000 inv 124    P9  10-26 7 000 "Оплата по счёту № 124", P10 10-28 -7 000 "Возврат по счету
                                    № 124": refunded -> paid 0, unpaid 7 000
  D10 A7 lost 10-20 3 000
  D11 A3 open 9 000 inv 200     P11 10-14 4 500 "Предоплата по счету № 200": paid to a deal not won
  D12 A2 10-26 6 000            P13 10-27 6 000 no reference: two won unpaid deals of 6 000 -> ambiguous,
  D13 A3 10-26 6 000                unmatched; D12 and D13 stay unpaid
  D14 A6 10-27 9 900 INN 7702000000  P14 10-29 9 900 INN 7702000000 "Оплата": inn_amount (deal's own INN)
  D15 A5 09-28 5 500 inv 90     P15 10-02 5 500 "Оплата по счету 90": a September sale paid in October
  D16 A8 10-23 2 500 inv 78     P16 10-24 2 500 invoice field "№ 0078" (invoice; leading zeros)
  D17 A2 10-24 4 000            P17 10-25 4 000 "Оплата по заказу № D17 от 24.10.2026" (purpose_deal)
  D18 A10 2025-10-01 1 000 inv 123 (never paid)
  P8  10-21 5 000 "Оплата по счету от 21.10.2026" (a date, no number) -> unmatched
  P12 10-16 3 000 deal_id D999 (no such deal) -> unmatched

Spend: yandex_direct 10 000 in October.
"""

PHONE = "+7 999 111-22-33"

FILES = {
    "spend.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-10-01,yandex_direct,ya_search,10000,200,10000
    """,
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign,referrer,click_id
        v1,c1,2026-10-01 09:00,yandex,cpc,ya_search,,yclid:111
        v2,c1,2026-10-03 10:00,vk,cpc,vk_retarget,,
        v3,c2,2026-10-02 10:00,google,cpc,g_search,,
        v4,c2,2026-10-04 10:00,,,,,
        v5,c3,2026-10-05 10:00,,,,,
        v6,c4,2026-09-20 10:00,telegram,social,tg_post,,
        v7,c9,2026-10-06 10:00,,,,,YCLID:999
        v8,c7,2026-06-01 10:00,vk,cpc,vk_summer,,
    """,
    "leads.csv": f"""
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone,click_id
        A1,2026-10-03 10:30,c1,,,,qualified,,yclid:111
        A2,2026-10-04 10:30,c2,partner,referral,x,qualified,,
        A3,2026-10-05 10:30,c3,,,,qualified,,
        A4,2026-10-07 10:00,,,,,qualified,{PHONE},
        A5,2026-09-20 10:30,c4,,,,qualified,{PHONE},
        A6,2026-10-08 10:00,c5,vk,cpc,vk_leadform,qualified,,
        A7,2026-10-09 10:00,c6,,,,new,,
        A8,2026-10-06 10:05,,,,,qualified,,yclid:999
        A9,2026-10-01 10:00,c7,,,,new,,
        A10,2025-09-25 10:00,c10,,,,qualified,,
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount,invoice,payer_inn
        D1,A1,2026-10-04 10:00,won,2026-10-10 12:00,50000,123,
        D2,A2,2026-10-05 10:00,won,2026-10-12 12:00,30000,101,
        D3,A3,2026-10-06 10:00,won,2026-10-12 13:00,20000,102,
        D4,A4,2026-10-08 10:00,won,2026-10-15 12:00,40000,55,
        D5,A5,2026-09-21 10:00,won,2026-09-25 12:00,10000,,
        D6,A4,2026-10-16 10:00,won,2026-10-20 12:00,15000,,
        D7,A6,2026-10-09 10:00,won,2026-10-18 12:00,12345.67,,
        D8,A8,2026-10-07 10:00,won,2026-10-21 12:00,8000,77,
        D9,A1,2026-10-20 10:00,won,2026-10-25 12:00,7000,124,
        D10,A7,2026-10-10 10:00,lost,2026-10-20 12:00,3000,,
        D11,A3,2026-10-13 10:00,open,,9000,200,
        D12,A2,2026-10-20 10:00,won,2026-10-26 12:00,6000,,
        D13,A3,2026-10-20 11:00,won,2026-10-26 12:00,6000,,
        D14,A6,2026-10-21 10:00,won,2026-10-27 12:00,9900,,7702000000
        D15,A5,2026-09-26 10:00,won,2026-09-28 12:00,5500,90,
        D16,A8,2026-10-22 10:00,won,2026-10-23 12:00,2500,78,
        D17,A2,2026-10-22 11:00,won,2026-10-24 12:00,4000,,
        D18,A10,2025-09-26 10:00,won,2025-10-01 12:00,1000,123,
    """,
    "payments.csv": """
        payment_id,paid_at,amount,deal_id,invoice,payer_inn,purpose
        P1,2026-10-11 10:00,50000,,,,Оплата по счету № 123 от 01.10.2026
        P2,2026-10-13 10:00,50000,,,,"Оплата по счетам № 101, 102 от 12.10.2026"
        P3,2026-10-15 15:00,20000,,,,Оплата по счету 55 от 15.10.2026 (аванс 50%)
        P4,2026-10-17 10:00,20000,,,,Доплата по счету №55
        P5,2026-09-26 10:00,10000,D5,,7701234567,Оплата
        P6,2026-10-22 10:00,15000,,,7701234567,Оплата за товар
        P7,2026-10-19 10:00,12345.67,,,,Оплата по договору 12/2026 от 05.10.2026
        P8,2026-10-21 10:00,5000,,,,Оплата по счету от 21.10.2026
        P9,2026-10-26 10:00,7000,,,,Оплата по счёту № 124
        P10,2026-10-28 10:00,-7000,,,,Возврат по счету № 124
        P11,2026-10-14 10:00,4500,,,,Предоплата по счету № 200
        P12,2026-10-16 10:00,3000,D999,,,
        P13,2026-10-27 10:00,6000,,,,
        P14,2026-10-29 10:00,9900,,,7702000000,Оплата
        P15,2026-10-02 10:00,5500,,,,Оплата по счету 90
        P16,2026-10-24 10:00,2500,,№ 0078,,Оплата
        P17,2026-10-25 10:00,4000,,,,Оплата по заказу № D17 от 24.10.2026
    """,
}
