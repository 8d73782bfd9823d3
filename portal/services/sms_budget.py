"""SMS-pumping defences kept in the rate-limit storage: budgets per account, IP, number and
country, a daily cap on all messages, and a resend cooldown per account and number (moving windows)."""

import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from portal.extensions import limiter
from portal.services.errors import DomainError

log = logging.getLogger(__name__)


class BudgetExceeded(DomainError):
    """No message may be sent now; `reason` is for the logs, `message` is safe to show."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Budget:
    reason: str
    item: RateLimitItem
    key: str


def _budgets(user_id: int, ip: str, number: str, region: str, cooldown: int) -> list[Budget]:
    config = current_app.config
    budgets = [Budget("cooldown", parse(f"1 per {max(int(cooldown), 1)} second"), f"user:{user_id}:{number}")]
    budgets += [
        Budget("account", parse(config["FRAUD_SMS_PER_ACCOUNT"]), f"user:{user_id}"),
        Budget("ip", parse(config["FRAUD_SMS_PER_IP"]), f"ip:{ip}"),
        Budget("number", parse(config["FRAUD_SMS_PER_NUMBER"]), f"number:{number}"),
        Budget("country", parse(config["FRAUD_SMS_PER_COUNTRY"]), f"country:{region or 'unknown'}"),
        Budget("daily_cap", parse(config["FRAUD_SMS_DAILY_CAP"]), "all"),
    ]
    return budgets


def _strategy() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(limiter.storage)


def _identifiers(budget: Budget) -> tuple[str, ...]:
    return (current_app.config["RATELIMIT_KEY_PREFIX"], "sms", budget.reason, budget.key)


def ensure_allowed(user_id: int, ip: str, number: str, region: str, cooldown: int) -> None:
    """Raise BudgetExceeded when any budget is spent or the cooldown is running."""
    strategy = _strategy()
    try:
        for budget in _budgets(user_id, ip, number, region, cooldown):
            if strategy.test(budget.item, *_identifiers(budget)):
                continue
            if budget.reason == "cooldown":
                reset = strategy.get_window_stats(budget.item, *_identifiers(budget)).reset_time
                seconds = max(1, math.ceil(reset - time.time()))
                raise BudgetExceeded("cooldown", f"Please wait {seconds} seconds before asking for a new code.")
            if budget.reason in ("country", "daily_cap"):
                log.error("SMS budget %s spent (%s): messages refused until it refills",
                          budget.reason, budget.item)
            raise BudgetExceeded(budget.reason, "Too many codes were requested. Please try again later.")
    except BudgetExceeded:
        raise
    except Exception:  # the storage is down: refuse rather than send unbudgeted messages
        log.exception("rate-limit storage unavailable: SMS budgets cannot be checked")
        raise BudgetExceeded("storage", "Codes cannot be sent right now. Please try again in a few minutes.") from None


def spend(user_id: int, ip: str, number: str, region: str, cooldown: int) -> None:
    """Count one message sent against every budget and start the cooldown."""
    strategy = _strategy()
    try:
        for budget in _budgets(user_id, ip, number, region, cooldown):
            strategy.hit(budget.item, *_identifiers(budget))
    except Exception:
        log.exception("rate-limit storage unavailable: a sent message was not counted")
