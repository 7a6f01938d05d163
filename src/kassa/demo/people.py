"""Fake but valid-looking Russian contact details: mobile phones, e-mails, company INNs.

Drawn as numbers (numpy, inside each block of the generator) and written as text once for all rows
(polars expressions), because string work per block would dominate the generator's time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

FIRST_NAMES = (
    "ivan", "sergey", "aleksey", "dmitriy", "andrey", "pavel", "mikhail", "nikolay", "vladimir", "oleg",
    "elena", "olga", "natalya", "tatyana", "irina", "mariya", "anna", "svetlana", "yuliya", "ekaterina",
)  # fmt: skip
LAST_NAMES = (
    "ivanov", "smirnov", "kuznetsov", "popov", "vasilev", "petrov", "sokolov", "mikhaylov", "novikov",
    "fedorov", "morozov", "volkov", "alekseev", "lebedev", "semenov", "egorov", "pavlov", "kozlov",
    "stepanov", "nikolaev", "orlov", "andreev", "makarov", "zakharov", "zaytsev",
)  # fmt: skip
MAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru", "list.ru", "ya.ru")
MAIL_DOMAIN_SHARE = (0.30, 0.28, 0.18, 0.08, 0.06, 0.05, 0.05)

# Check-digit weights of a 10-digit (company) INN (order of the Federal Tax Service ММВ-7-6/435@).
INN10_WEIGHTS = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])


def phone_draws(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The nine digits after ``+7 9`` and how the number was typed (see :func:`phone_text`)."""
    return {
        "phone_digits": rng.integers(0, 10**9, size=n),
        "phone_style": rng.choice(3, size=n, p=(0.45, 0.25, 0.30)),
    }


def phone_text() -> pl.Expr:
    """Russian mobile numbers written the three ways CRMs receive them.

    ``+7 (916) 123-45-67`` (a form's mask), ``89161234567`` (typed by hand), ``+79161234567`` (call tracking).
    """
    digits = pl.lit("9") + pl.col("phone_digits").cast(pl.String).str.zfill(9)
    masked = pl.concat_str(
        pl.lit("+7 ("), digits.str.slice(0, 3), pl.lit(") "), digits.str.slice(3, 3), pl.lit("-"),
        digits.str.slice(6, 2), pl.lit("-"), digits.str.slice(8, 2),
    )  # fmt: skip
    style = pl.col("phone_style")
    return (
        pl.when(style == 0)
        .then(masked)
        .when(style == 1)
        .then(pl.lit("8") + digits)
        .otherwise(pl.lit("+7") + digits)
    )


def email_draws(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Name, surname, domain, pattern and digits of an address (see :func:`email_text`)."""
    return {
        "mail_first": rng.integers(0, len(FIRST_NAMES), size=n),
        "mail_last": rng.integers(0, len(LAST_NAMES), size=n),
        "mail_domain": rng.choice(len(MAIL_DOMAINS), size=n, p=MAIL_DOMAIN_SHARE),
        "mail_pattern": rng.choice(3, size=n, p=(0.45, 0.35, 0.20)),
        "mail_number": rng.integers(0, 100, size=n),
    }


def email_text() -> pl.Expr:
    """Addresses such as ``olga.petrova84@mail.ru``, ``kozlov17@yandex.ru`` or ``ivolkov@gmail.com``."""
    first = pl.col("mail_first").replace_strict(
        list(range(len(FIRST_NAMES))), list(FIRST_NAMES), return_dtype=pl.String
    )
    # Women's surnames take -a (Petrova): the second half of FIRST_NAMES are women's names.
    last = pl.col("mail_last").replace_strict(
        list(range(len(LAST_NAMES))), list(LAST_NAMES), return_dtype=pl.String
    ) + pl.when(pl.col("mail_first") >= len(FIRST_NAMES) // 2).then(pl.lit("a")).otherwise(pl.lit(""))
    domain = pl.col("mail_domain").replace_strict(
        list(range(len(MAIL_DOMAINS))), list(MAIL_DOMAINS), return_dtype=pl.String
    )
    number = pl.col("mail_number").cast(pl.String).str.zfill(2)
    pattern = pl.col("mail_pattern")
    local = (
        pl.when(pattern == 0).then(pl.concat_str(first, pl.lit("."), last, number))
        .when(pattern == 1).then(pl.concat_str(last, number))
        .otherwise(pl.concat_str(first.str.slice(0, 1), last))
    )  # fmt: skip
    return pl.concat_str(local, pl.lit("@"), domain)


def company_inns(rng: np.random.Generator, n: int) -> np.ndarray:
    """10-digit INNs of Moscow (77) and Moscow-region (50) companies with a correct check digit.

    Check digit: ``(Σ wᵢ·dᵢ mod 11) mod 10`` over the first nine digits with weights 2,4,10,3,5,9,4,6,8.
    """
    region = rng.choice(np.array([77, 50]), size=n, p=(0.6, 0.4))
    digits = np.column_stack([region // 10, region % 10, rng.integers(0, 10, size=(n, 7))])
    check = (digits @ INN10_WEIGHTS) % 11 % 10
    return (digits * 10 ** np.arange(9, 0, -1)).sum(axis=1) + check


def inn_is_valid(inn: str) -> bool:
    """Whether a 10-digit INN's check digit is right (used by the tests)."""
    if len(inn) != 10 or not inn.isdigit():
        return False
    d = np.array([int(c) for c in inn])
    return int((d[:9] @ INN10_WEIGHTS) % 11 % 10) == int(d[9])
