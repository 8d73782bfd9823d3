"""Real network servers on loopback (SMTP, Vonage, OIDC, reCAPTCHA) that the tests talk to."""
