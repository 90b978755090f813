"""A local SMTP server for Enamel's email tests: stores each message as a file.

Usage: python3 smtp_sink.py OUT_DIR [PORT]

Listens on 127.0.0.1 (PORT, or a free port when omitted or 0), prints "PORT <n>"
once it accepts connections, and writes each received message as OUT_DIR/<n>.eml
(written to a temporary name, then renamed, so a reader never sees half a message).
Recipients starting with "reject-" get 550 and those starting with "busy-" get 451,
so the tests can see how SMTP replies are classified. Stops on SIGTERM or stdin EOF.
"""

import itertools
import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject-"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy-"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        final = os.path.join(self.out_dir, f"{n}.eml")
        temp = final + ".tmp"
        with open(temp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(temp, final)
        return "250 2.0.0 queued"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    out_dir = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    port = port or free_port()
    controller = Controller(Sink(out_dir), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"PORT {port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The test holds our stdin open; its end (the test process exiting) stops us too.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
