#!/usr/bin/env python3
"""A webhook receiver for trying Switchboard's deliveries locally: verifies each delivery with the official
ContactsManager SDK (`verify_webhook_signature`) and prints it with the delay since its event. It checks
`x-contactsmanager-signature-current` too, so it verifies with the old or the new secret during a rotation's
overlap (docs/events.md, "Rotating a secret").

usage: .tools/sdk-py/bin/python scripts/webhook-receiver.py SECRET [PORT]   (scripts/sdk-venv.sh installs it)
"""
import datetime
import http.server
import json
import sys

from contactsmanager import ContactsManagerClient

secret = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
client = ContactsManagerClient("api-key", "api-secret", "org")
client.set_webhook_secret(secret)


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        verified = any(client.verify_webhook_signature(body, self.headers[name])
                       for name in ("x-contactsmanager-signature", "x-contactsmanager-signature-current")
                       if name in self.headers)
        delivery = json.loads(body)
        created = datetime.datetime.fromisoformat(delivery["created_at"].replace("Z", "+00:00"))
        delay = datetime.datetime.now(datetime.timezone.utc) - created
        print(f"{delivery['event']} id={delivery['id']} verified={verified} "
              f"delay={delay.total_seconds() * 1000:.0f} ms payload={json.dumps(delivery['payload'])}", flush=True)
        self.send_response(200 if verified else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
