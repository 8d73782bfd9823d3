"""Example instance configuration: copy to instance/config.py (git-ignored) and edit.

Precedence: portal/config.py defaults, then this file, then PORTAL_<KEY> environment
variables (e.g. PORTAL_SQLALCHEMY_DATABASE_URI), then a test's mapping. Settings staff
change at run time (password policy, captcha, fraud protection, sign-in methods, retention)
live in the database and are edited in the admin area, not here.
"""

# Signing key for cookies. Leave unset to have one generated into instance/secret_key.
# SECRET_KEY = "64 hex characters from `python -c 'import secrets; print(secrets.token_hex(32))'`"

# Database: SQLite in instance/ by default; PostgreSQL in production.
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://portal:secret@127.0.0.1:5432/portal"

# Rate-limit storage shared by every worker (memory:// counts per worker).
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
# Redis unreachable: False keeps throttling in each worker's memory (and logs a warning);
# True refuses credential checks with 503 until it is back. Pages answer either way.
# RATELIMIT_FAIL_CLOSED = False
# False switches request throttling off; lockout counts and SMS budgets stay on (same store).
# RATELIMIT_ENABLED = True

# SMS-pumping budgets (moving windows): verification texts per account, IP (/64 for IPv6),
# number and country; sign-in and recovery codes per verified number; every text per day.
# FRAUD_SMS_PER_ACCOUNT = "5 per hour"
# FRAUD_SMS_PER_IP = "10 per hour"
# FRAUD_SMS_PER_NUMBER = "3 per hour"
# FRAUD_SMS_PER_COUNTRY = "200 per hour"
# FRAUD_SMS_CODES_PER_NUMBER = "6 per hour"
# FRAUD_SMS_DAILY_CAP = "1000 per day"
# Registration mails (confirmations, "someone tried to register" notices) to one typed address,
# however many IPs ask; past it the page answers the same and nothing is sent:
# REGISTRATION_MAILS_PER_ADDRESS = "5 per day"
# A number verified on the way to an order (no password asked there) takes sign-in and recovery codes after:
# PHONE_RECOVERY_DELAY_HOURS = 24
# "Download my data" in General settings, per signed-in user (each download reads all their rows):
# RATELIMIT_DATA_EXPORT_PER_USER = "10 per hour"

# The base of every link in an email or SMS. https:// also turns on Secure cookies.
# PUBLIC_URL = "https://my.example-hosting.com"

# Maximum password age in days (0 = off). BILLmanager's spelling is accepted too:
# PASS_EXPIRE_PERIOD = 90
# PassExpirePeriod = 90

# Sessions: idle and absolute limits (staff shorter); "remember me" lasts REMEMBER_DAYS.
# SESSION_IDLE_MINUTES = 60
# STAFF_SESSION_IDLE_MINUTES = 30
# SESSION_MAX_HOURS = 24
# STAFF_SESSION_MAX_HOURS = 12
# REMEMBER_DAYS = 30

# SMS: "console" keeps messages in /dev/outbox; "vonage" sends through Vonage.
# SMS_BACKEND = "vonage"
# SMS_SENDER = "MyHosting"
# VONAGE_API_KEY = "..."
# VONAGE_API_SECRET = "..."
# VONAGE_API_HOST = "api.nexmo.com"        # regional host, if any
# VONAGE_REST_HOST = "rest.nexmo.com"
# VONAGE_TIMEOUT = 10                      # seconds

# Email: "console" keeps messages in /dev/outbox; "smtp" sends them.
# MAIL_BACKEND = "smtp"
# MAIL_SERVER = "smtp.example.com"
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_USERNAME = "portal"
# MAIL_PASSWORD = "..."
# MAIL_DEFAULT_SENDER = "Portal <no-reply@example.com>"

# Google OAuth (client sign-in).
# GOOGLE_CLIENT_ID = "..."
# GOOGLE_CLIENT_SECRET = "..."
# GOOGLE_SERVER_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"

# Keycloak OIDC (staff sign-in).
# KEYCLOAK_CLIENT_ID = "portal"
# KEYCLOAK_CLIENT_SECRET = "..."
# KEYCLOAK_SERVER_METADATA_URL = "https://sso.example.com/realms/staff/.well-known/openid-configuration"

# Google reCAPTCHA (only when staff choose it; ALTCHA needs no keys).
# RECAPTCHA_PUBLIC_KEY = "..."
# RECAPTCHA_PRIVATE_KEY = "..."
# RECAPTCHA_VERIFY_SERVER = "https://www.google.com/recaptcha/api/siteverify"

# Behind a TLS-terminating proxy: how many proxies' X-Forwarded-For / -Proto to trust.
# PROXY_FIX_X_FOR = 1
# PROXY_FIX_X_PROTO = 1
# The proxies' own addresses (or networks); requests from elsewhere keep their peer address.
# PROXY_FIX_TRUSTED = "127.0.0.1, ::1"

# Password hashing (argon2id); a change rehashes each password at its next login.
# ARGON2_TIME_COST = 3
# ARGON2_MEMORY_COST = 65536
# ARGON2_PARALLELISM = 4
