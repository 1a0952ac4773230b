"""Twilio, the SMS provider behind ``SMS_PROVIDER=twilio``: only its emulator lives here (the provider
itself is addon/mail/twilio_sms.py)."""
