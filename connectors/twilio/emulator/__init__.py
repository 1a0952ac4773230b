"""A local Twilio Messages API speaking Twilio's wire format (tests and the demo): see app.py."""
