"""An SMTP sink for the benchmarks: aiosmtpd in a process of its own, counting what arrives.

    python bench/sink.py PORT REPORT.json

It accepts every message and counts, per recipient, how many arrived. On
SIGTERM it writes ``{"messages", "bytes", "recipients", "repeated", "cpu_seconds"}`` to
REPORT.json and exits, so a benchmark can check that each reader got exactly one.

aiosmtpd reads DATA one line at a time, which caps it at a few hundred messages
a second: slower than what is measured. This sink keeps aiosmtpd's protocol
handling and reads DATA in blocks up to the terminating ``CRLF . CRLF``, un-stuffing
dots as RFC 5321 4.5.2 says. It offers PIPELINING (RFC 2920), as relays do:
what follows the terminator in a block (the next MAIL, RCPT and DATA) is
handed back to aiosmtpd's reader for its own command loop.
"""

import asyncio
import json
import resource
import signal
import sys
from collections import Counter

from aiosmtpd.smtp import SMTP, syntax

END = b"\r\n.\r\n"


class Counting:
    """The handler: counts messages, bytes and recipients."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.recipients: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages += 1
        self.bytes += len(envelope.original_content)
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    def report(self) -> dict:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "recipients": len(self.recipients),
            "repeated": sum(n - 1 for n in self.recipients.values() if n > 1),
            "cpu_seconds": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2),
        }


class BlockSMTP(SMTP):
    """aiosmtpd, reading the message body in one block instead of line by line."""

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd's name)
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        block = bytearray(b"\r\n")  # so an empty body (".\r\n") also ends with END
        while (end := block.find(END)) < 0:
            chunk = await self._reader.read(1 << 16)
            if not chunk:
                return
            block += chunk
        # Pipelined commands after the terminator go back to the front of the reader.
        self._reader._buffer[:0] = block[end + len(END) :]
        del block[end + len(END) :]
        body = bytes(block).replace(b"\r\n..", b"\r\n.")[2 : 2 - len(END)]
        self.envelope.content = self.envelope.original_content = body
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


async def serve(port: int, report_path: str) -> None:
    handler = Counting()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: BlockSMTP(handler, hostname="sink.test", decode_data=False),
        "127.0.0.1",
        port,
        backlog=256,
    )
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    print("ready", flush=True)
    await stopped.wait()
    server.close()
    with open(report_path, "w") as out:
        json.dump(handler.report(), out)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
