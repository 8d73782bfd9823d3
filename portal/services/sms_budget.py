"""SMS-pumping defences kept in the shared counter store: budgets per account, IP, number and
country, a daily cap on every text the portal sends, and a resend cooldown per account and number
(moving windows)."""

import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from portal.services import counters
from portal.services.errors import DomainError
from portal.wording import counted

log = logging.getLogger(__name__)

TOO_MANY = "Too many codes were requested. Please try again later."
STORE_AWAY = "Codes cannot be sent right now. Please try again in a few minutes."


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


def _cooldown(user_id: int, number: str, seconds: int) -> Budget:
    return Budget("cooldown", parse(f"1 per {max(int(seconds), 1)} second"), f"user:{user_id}:{number}")


def _daily_cap() -> Budget:
    return Budget("daily_cap", parse(current_app.config["FRAUD_SMS_DAILY_CAP"]), "all")


def _sender_budgets(user_id: int, network: str, number: str, region: str) -> list[Budget]:
    config = current_app.config
    return [
        Budget("account", parse(config["FRAUD_SMS_PER_ACCOUNT"]), f"user:{user_id}"),
        Budget("ip", parse(config["FRAUD_SMS_PER_IP"]), f"ip:{network}"),
        Budget("number", parse(config["FRAUD_SMS_PER_NUMBER"]), f"number:{number}"),
        Budget("country", parse(config["FRAUD_SMS_PER_COUNTRY"]), f"country:{region or 'unknown'}"),
    ]


def _strategy() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(counters.storage())


def _identifiers(budget: Budget) -> tuple[str, ...]:
    return (current_app.config["RATELIMIT_KEY_PREFIX"], "sms", budget.reason, budget.key)


def _refused(strategy: MovingWindowRateLimiter, budget: Budget) -> BudgetExceeded:
    if budget.reason == "cooldown":
        reset = strategy.get_window_stats(budget.item, *_identifiers(budget)).reset_time
        seconds = max(1, math.ceil(reset - time.time()))
        return BudgetExceeded("cooldown", f"Please wait {counted(seconds, 'second')} before asking for a new code.")
    if budget.reason in ("country", "daily_cap"):
        log.error("SMS budget %s spent (%s): messages refused until it refills", budget.reason, budget.item)
    return BudgetExceeded(budget.reason, TOO_MANY)


def _store_away() -> BudgetExceeded:
    """The store is down: refuse rather than send unbudgeted messages."""
    log.exception("counter store unavailable: SMS budgets cannot be checked")
    return BudgetExceeded("storage", STORE_AWAY)


def reserve(user_id: int, network: str, number: str, region: str, cooldown: int) -> None:
    """Take this verification text from every budget before it is sent, or raise BudgetExceeded.
    All of them and the cooldown are tested first, so an ordinary refusal takes nothing. Each take
    is atomic in the store: of two requests at the same moment only one gets a budget's last
    message (the other keeps what it took before, erring on the side of the budgets). A text whose
    sending fails still counts, as the provider may have sent it; the cooldown starts only once it
    has left, or once the number was refused as another account's (`start_cooldown`), so a failed
    send can be retried at once."""
    _take([*_sender_budgets(user_id, network, number, region), _daily_cap()],
          also_tested=[_cooldown(user_id, number, cooldown)])


def take_for_code(number: str) -> None:
    """Count a sign-in or recovery code to a number already verified against that number's budget
    for codes (so nobody can flood a victim's phone through recovery) and the daily cap on all
    messages, or raise BudgetExceeded."""
    _take([Budget("codes_to_number", parse(current_app.config["FRAUD_SMS_CODES_PER_NUMBER"]), f"number:{number}"),
           _daily_cap()])


def _take(budgets: list[Budget], also_tested: list[Budget] = ()) -> None:
    """Test `also_tested` and `budgets` (a refusal takes nothing), then take one message from each
    budget, atomically in the store; BudgetExceeded for the first that refuses or a store away."""
    strategy = _strategy()
    try:
        for budget in [*also_tested, *budgets]:
            if not strategy.test(budget.item, *_identifiers(budget)):
                raise _refused(strategy, budget)
        for budget in budgets:
            if not strategy.hit(budget.item, *_identifiers(budget)):
                raise _refused(strategy, budget)
    except BudgetExceeded:
        raise
    except Exception:
        raise _store_away() from None


def start_cooldown(user_id: int, number: str, cooldown: int) -> None:
    """A message to this number has left: no other for `cooldown` seconds."""
    budget = _cooldown(user_id, number, cooldown)
    try:
        _strategy().hit(budget.item, *_identifiers(budget))
    except Exception:
        log.exception("counter store unavailable: the resend cooldown was not started")
