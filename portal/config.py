"""Default configuration; instance/config.py, PORTAL_* variables and tests override it."""

from datetime import timedelta

# Signing key: None means "read or generate instance/secret_key" (see portal.settings_loader).
SECRET_KEY = None
SQLALCHEMY_DATABASE_URI = None  # None means SQLite in the instance folder.
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

# False switches Flask-Limiter's request throttling off; the lockout's failure counts and the SMS
# budgets keep using the store (portal/services/counters.py).
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_KEY_PREFIX = "portal"
RATELIMIT_HEADERS_ENABLED = False
# When the shared store (Redis) cannot be reached: False keeps throttling in each worker's memory
# until it is back; True refuses credential checks (503) meanwhile. Pages answer either way.
RATELIMIT_FAIL_CLOSED = False
RATELIMIT_STORAGE_OPTIONS = {"wrap_exceptions": True, "socket_connect_timeout": 1, "socket_timeout": 1}

PUBLIC_URL = "http://127.0.0.1:5000"
PASS_EXPIRE_PERIOD = 0  # days; 0 turns the maximum password age off

# Sessions: idle and absolute limits, shorter for staff.
SESSION_IDLE_MINUTES = 60
STAFF_SESSION_IDLE_MINUTES = 30
SESSION_MAX_HOURS = 24
STAFF_SESSION_MAX_HOURS = 12
REMEMBER_DAYS = 30  # lifetime of a "remember me" session (client users only)
SESSION_TOUCH_SECONDS = 60  # last use is written at most this often

SESSION_COOKIE_NAME = "portal_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # set True behind HTTPS (PUBLIC_URL https:// turns it on)
REMEMBER_COOKIE_NAME = "portal_remember"
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_DURATION = timedelta(days=REMEMBER_DAYS)
PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_MAX_HOURS)

# No form or API body of the portal comes near this: a bigger one is refused (413) before it is read.
MAX_CONTENT_LENGTH = 1024 * 1024

WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
WTF_CSRF_HEADERS = ["X-CSRFToken"]

# argon2id parameters (RFC 9106 second recommended option); tests lower them.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_COST = 65536
ARGON2_PARALLELISM = 4

SMS_BACKEND = "console"  # console | vonage
SMS_SENDER = "Portal"
VONAGE_API_KEY = None
VONAGE_API_SECRET = None
VONAGE_API_HOST = None
VONAGE_REST_HOST = None
VONAGE_TIMEOUT = 10
VONAGE_CA_BUNDLE = None  # a PEM file to trust instead of the system CAs (tests)

MAIL_BACKEND = "console"  # console | smtp
MAIL_SERVER = "127.0.0.1"
MAIL_PORT = 25
MAIL_USE_TLS = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_DEFAULT_SENDER = "portal@localhost"
MAIL_TIMEOUT = 10
# Security notices the relay did not take wait in the database: tried again after this many seconds,
# doubling up to an hour, and dropped (logged as an error) once this many hours old.
NOTICE_RETRY_SECONDS = 60
NOTICE_GIVE_UP_HOURS = 72

GOOGLE_CLIENT_ID = None
GOOGLE_CLIENT_SECRET = None
GOOGLE_SERVER_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"
KEYCLOAK_CLIENT_ID = None
KEYCLOAK_CLIENT_SECRET = None
KEYCLOAK_SERVER_METADATA_URL = None

RECAPTCHA_PUBLIC_KEY = None
RECAPTCHA_PRIVATE_KEY = None
RECAPTCHA_VERIFY_SERVER = "https://www.google.com/recaptcha/api/siteverify"

# Reverse proxies in front of the portal whose X-Forwarded-* headers are trusted (0 = none),
# and the addresses (or networks) they connect from: a request from anywhere else keeps its
# peer address, whatever X-Forwarded-For it carries.
PROXY_FIX_X_FOR = 0
PROXY_FIX_X_PROTO = 0
PROXY_FIX_TRUSTED = "127.0.0.1, ::1"

# Throttling of credential checks (Flask-Limiter strings), per IP and per account.
RATELIMIT_LOGIN_PER_IP = "30 per minute"
RATELIMIT_LOGIN_PER_ACCOUNT = "10 per minute"
RATELIMIT_REGISTER_PER_IP = "10 per hour"
REGISTRATION_MAILS_PER_ADDRESS = "5 per day"  # confirmations or "tried to register" notices to one address
REGISTRATION_LINK_HOURS = 24
EMAIL_CHANGE_LINK_HOURS = 24  # the link sent to a new address from General settings
PHONE_RECOVERY_DELAY_HOURS = 24  # a number verified without the password then takes sign-in and recovery codes
RATELIMIT_RECOVER_PER_IP = "10 per hour"
RATELIMIT_RECOVER_PER_ACCOUNT = "5 per hour"
RATELIMIT_RECOVERY_CODE_PER_IP = "20 per hour"
RATELIMIT_RECOVERY_CODE_PER_ACCOUNT = "10 per 10 minutes"
# Current-password fields (General settings: password, email and phone changes; expired password).
RATELIMIT_REAUTH_PER_IP = "20 per hour"
RATELIMIT_REAUTH_PER_ACCOUNT = "10 per hour"
RATELIMIT_POLICY_CHECK_PER_IP = "120 per minute"
RATELIMIT_CAPTCHA_PER_IP = "60 per minute"

# ALTCHA proof of work: PBKDF2 iterations per try, and the largest counter a browser must reach.
ALTCHA_COST = 1000
ALTCHA_MAX_NUMBER = 5000
PASS_EXPIRE_WARN_DAYS = 7  # warn this many days before the maximum password age is reached
INVITE_LINK_HOURS = 24  # a new administrator's set-password link (recovery links live an hour at most)

# SMS-pumping budgets (moving windows in the counter store) for phone verification codes; sign-in
# and recovery codes to a verified number have a budget per number; the daily cap counts every text.
FRAUD_SMS_PER_ACCOUNT = "5 per hour"
FRAUD_SMS_PER_IP = "10 per hour"
FRAUD_SMS_PER_NUMBER = "3 per hour"
FRAUD_SMS_PER_COUNTRY = "200 per hour"
FRAUD_SMS_CODES_PER_NUMBER = "6 per hour"  # sign-in and recovery codes to one verified number
FRAUD_SMS_DAILY_CAP = "1000 per day"
# Phone code checks and phone changes (a current-password field), per IP and per account.
RATELIMIT_PHONE_CODE_PER_IP = "30 per hour"
RATELIMIT_PHONE_CODE_PER_ACCOUNT = "10 per 10 minutes"
RATELIMIT_PHONE_CHANGE_PER_IP = "20 per hour"
RATELIMIT_PHONE_CHANGE_PER_ACCOUNT = "10 per hour"

# Two-factor codes, API requests, temporary keys.
RATELIMIT_2FA_PER_IP = "30 per minute"
RATELIMIT_2FA_PER_ACCOUNT = "5 per minute; 20 per hour"
RATELIMIT_API_PER_IP = "300 per minute"
TEMP_KEY_MINUTES = 15
RATELIMIT_CLEAR_DATA_PER_IP = "20 per hour"  # Clear data: the staff member's current password
RATELIMIT_CLEAR_DATA_PER_USER = "5 per 10 minutes"
RATELIMIT_DATA_EXPORT_PER_USER = "10 per hour"  # Download my data (General settings), per user
