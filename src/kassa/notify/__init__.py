"""Delivery: the digest (:mod:`kassa.report.digest`) to Telegram and e-mail recipients (docs/digest.md).

:mod:`kassa.notify.telegram` speaks the Bot API, :mod:`kassa.notify.email` SMTP, :mod:`kassa.notify.secrets`
finds the bot token and the SMTP password, and :mod:`kassa.notify.send` builds each recipient's digest and
sends it.
"""
