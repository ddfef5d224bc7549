"""The Python side of torsion-smtp's tests.

    smtp_peer.py send SPEC.json   smtplib sends the messages SPEC lists to
                                  torsion's server; prints one JSON line
                                  with what became of each.
    smtp_peer.py serve [CERT KEY] aiosmtpd serves on a free port (with
                                  STARTTLS when given a certificate);
                                  prints "PORT n", then one JSON line per
                                  message it receives. It refuses
                                  recipients whose mailbox starts with
                                  "nobody@".
"""

import asyncio
import json
import smtplib
import ssl
import sys


def send(spec_path):
    with open(spec_path) as spec_file:
        spec = json.load(spec_file)
    client = smtplib.SMTP("127.0.0.1", spec["port"], local_hostname="python.test", timeout=20)
    tls = False
    client.ehlo()
    if spec.get("cafile"):
        # The certificate is for 127.0.0.1 as well as localhost: verified.
        client.starttls(context=ssl.create_default_context(cafile=spec["cafile"]))
        client.ehlo()
        tls = True
    extensions = sorted(client.esmtp_features)
    results = [deliver(client, message) for message in spec["messages"]]
    client.quit()
    print(json.dumps({"tls": tls, "extensions": extensions, "results": results}))


def deliver(client, message):
    data = bytes.fromhex(message["data"])
    if message.get("no_size"):
        # Step by step, without SIZE: the server learns the size only by
        # reading the message.
        client.mail(message["from"])
        for to in message["to"]:
            client.rcpt(to)
        code, _ = client.data(data)
        client.rset()
        return {"ok": code == 250, "stage": "data", "code": code}
    try:
        refused = client.sendmail(message["from"], message["to"], data, message.get("options", []))
        return {"ok": True, "refused": {to: reply[0] for to, reply in refused.items()}}
    except smtplib.SMTPRecipientsRefused as error:
        refused = {to: reply[0] for to, reply in error.recipients.items()}
        return {"ok": False, "stage": "rcpt", "refused": refused}
    except smtplib.SMTPSenderRefused as error:
        return {"ok": False, "stage": "mail", "code": error.smtp_code}
    except smtplib.SMTPDataError as error:
        return {"ok": False, "stage": "data", "code": error.smtp_code}


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nobody@"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.hex(),
            "tls": session.ssl is not None,
        }
        print(json.dumps(received), flush=True)
        return "250 OK stored"


async def serve(cert=None, key=None):
    from aiosmtpd.smtp import SMTP

    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="aiosmtpd.test", tls_context=context),
        "127.0.0.1",
        0,
    )
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    # Until the test kills it (and `timeout` at the latest).
    await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2])
    else:
        asyncio.run(serve(*sys.argv[2:4]))
