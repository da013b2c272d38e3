#!/usr/bin/env python3
"""Prints the leaf parts of a MIME message as JSON: content type, filename and
the SHA-256 of the decoded payload (line endings of text parts normalised to
LF, since canonical form turns LF into CRLF). Used to prove that signing
changed the encoding of a message but not its content."""
import email
import email.policy
import hashlib
import json
import sys

with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)

leaves = []
for part in msg.walk():
    if part.is_multipart():
        continue
    payload = part.get_payload(decode=True) or b''
    ctype = part.get_content_type()
    if ctype.startswith('text/'):
        payload = payload.replace(b'\r\n', b'\n')
    cte = (part.get('Content-Transfer-Encoding') or '7bit').strip().lower()
    leaves.append({'type': ctype, 'filename': part.get_filename(), 'cte': cte, 'sha256': hashlib.sha256(payload).hexdigest(), 'size': len(payload)})
print(json.dumps(leaves))
