"""An SMTP server for the tests, run as its own process: ``python -m tests.accounts.smtp_sink
PORT FOLDER`` accepts every message on 127.0.0.1:PORT and writes each to FOLDER as a ``.eml``
file (written under a temporary name, then renamed, so a reader never sees half a message)."""

import itertools
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class FolderHandler:
    def __init__(self, folder: Path):
        self.folder = folder
        self.numbers = itertools.count()

    async def handle_DATA(self, server, session, envelope) -> str:
        path = self.folder / f"{next(self.numbers):05d}.eml"
        partial = path.with_suffix(".partial")
        partial.write_bytes(envelope.original_content)
        partial.rename(path)
        return "250 Message accepted"


def main(port: int, folder: Path) -> None:
    controller = Controller(FolderHandler(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
