"""``kassa connect SERVICE --help``: the help of one service — its own options and an example.

``kassa connect`` stays one command (``kassa connect yandex-direct --name d …`` parses as it always
has); only its help depends on the SERVICE written before ``--help``. Click runs ``--help`` before it
has read the SERVICE argument, so :class:`ConnectCommand` notes the first word of the command line
while parsing and, when asked for help, shows a copy of itself with that service's text and options.
"""

from __future__ import annotations

import copy
from typing import Any

from typer.core import TyperCommand

# Options every service takes (parameter names of ``kassa connect``).
COMMON = ("service", "name", "token_stdin", "token_env", "base_url", "look_back", "db", "lang")

# Per service: what it is, the options it reads besides COMMON, and an example.
SERVICES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "yandex-direct": (
        "Yandex Direct (Reports API v5): daily spend, clicks and impressions of every campaign. The "
        "token: an OAuth token with the Direct API right; an agency's token also needs --client-login.",
        ("client_login", "include_vat", "currency", "campaign"),
        "kassa connect yandex-direct --name d --client-login shop --token-stdin --db shop.duckdb < token.txt",
    ),
    "yandex-metrica": (
        "Yandex Metrica (Logs API): every visit of a counter, with its UTM tags and landing page. The "
        "token: an OAuth token with the Metrica read right. --counter is required.",
        ("counter",),
        "kassa connect yandex-metrica --name m --counter 24169438 --token-env METRICA_TOKEN --db shop.duckdb",
    ),
    "vk-ads": (
        "VK Ads (ads.vk.com): daily statistics of every campaign. The token is the API app's client "
        "secret; --client-id is required.",
        ("client_id", "currency"),
        "kassa connect vk-ads --name vk --client-id 4a8c2f --token-stdin --db shop.duckdb "
        "< client-secret.txt",
    ),
    "google-ads": (
        "Google Ads (googleAds:searchStream): daily cost, clicks and impressions of every campaign. The "
        'token is one line of JSON: {"developer_token": "…", "client_secret": "…", "refresh_token": '
        '"…"}; --customer-id and --client-id are required, --login-customer-id when access is through a '
        "manager account.",
        ("customer_id", "login_customer_id", "client_id", "currency"),
        "kassa connect google-ads --name g --customer-id 123-456-7890 --client-id "
        "1234.apps.googleusercontent.com --token-stdin --db shop.duckdb < google.json",
    ),
    "meta-ads": (
        "Meta Ads (Insights): daily spend, reach and clicks of every campaign. The token: a system "
        "user's token with ads_read; --account is required.",
        ("account", "currency"),
        "kassa connect meta-ads --name fb --account act_1234567890 --token-env META_TOKEN --db shop.duckdb",
    ),
    "tbank": (
        "T-Bank Business (T-API statement): every operation of one account, loaded as the 1C statement "
        "import loads it (payments: money coming in). The token: a T-Business API token with the "
        '"accounts and statements" scope; --account is required.',
        ("account",),
        "kassa connect tbank --name bank --account 40702810010000012345 --token-env TBANK_TOKEN --db shop.duckdb",
    ),
    "tochka": (
        "Tochka (Open Banking statements): every operation of one account, loaded as the 1C statement "
        "import loads it (payments: money coming in). The token: an access token with the "
        "ReadStatements permission, or the JWT key from the internet bank; --account is the account "
        "and the bank's BIC.",
        ("account",),
        "kassa connect tochka --name tochka --account 40702810010000012345/044525104 --token-env "
        "TOCHKA_TOKEN --db shop.duckdb",
    ),
    "amocrm": (
        "amoCRM / Kommo (API v4): every lead changed on the days synced, as leads and deals, with its "
        "contacts' phones and e-mails (hashed) and its UTM fields, loaded as importing the same API JSON "
        "loads it. Either OAuth (the integration's --client-id, its secret key on standard input with "
        "--client-secret-stdin, an --auth-code and the --redirect-uri) or a long-lived token "
        "(--token-stdin); --subdomain is required; --mapping names your own stages.",
        ("subdomain", "client_id", "client_secret_stdin", "auth_code", "redirect_uri", "mapping"),
        "kassa connect amocrm --name crm --subdomain shop --client-id 2f7c… --client-secret-stdin "
        "--auth-code def502… --redirect-uri https://shop.ru/amo --mapping stages.yaml --db shop.duckdb "
        "< secret.txt",
    ),
}


def service_help(service: str) -> str:
    """The help text of one service's ``kassa connect`` (paragraphs, as a docstring would have)."""
    what, _options, example = SERVICES[service]
    return (
        f"{what}\n\nExample: {example}\n\n"
        "Where to get the token and which rights it needs: docs/connections.md."
    )


class ConnectCommand(TyperCommand):
    """``kassa connect``, whose ``--help`` after a SERVICE shows that service's help only."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in SERVICES:  # the SERVICE argument comes first: `kassa connect SERVICE …`
            ctx.meta["kassa.connect.service"] = args[0]
        return super().parse_args(ctx, args)

    # ctx and formatter are Typer's vendored click Context and HelpFormatter, which it does not export.
    def format_help(self, ctx: Any, formatter: Any) -> None:
        service = ctx.meta.get("kassa.connect.service")
        if service is None:
            super().format_help(ctx, formatter)
            return
        keep = set(COMMON) | set(SERVICES[service][1])
        one: Any = copy.copy(self)
        one.help = service_help(service)
        one.params = [p for p in self.params if p.name in keep or p.name == "help"]
        TyperCommand.format_help(one, ctx, formatter)
