"""Prints the messages of a Maildir as JSON: [[to, subject, text], …], as
Python's e-mail parser reads them (headers and transfer encodings decoded).
Used by the tests that go through the real SMTP server (aiosmtpd)."""
import email
import email.policy
import json
import mailbox
import sys

box = mailbox.Maildir(sys.argv[1], create=False)
messages = (email.message_from_bytes(box.get_bytes(k), policy=email.policy.default) for k in box.keys())
print(json.dumps([[m["To"], m["Subject"], m.get_content()] for m in messages]))
