"""A TCP relay: ``python -m tests.multihost.relay LISTEN_ADDRESS PORT TARGET_HOST TARGET_PORT``.

The multi-host test's hosts reach PostgreSQL and Redis, which listen on loopback only and keep
their configuration, through this relay on the bridge's address (no package to install). It
prints "listening" once it accepts connections.
"""

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(address: str, port: int, target_host: str, target_port: int) -> None:
    async def relay(client_reader, client_writer):
        try:
            target_reader, target_writer = await asyncio.open_connection(target_host,
                                                                         target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, target_writer),
                             _pipe(target_reader, client_writer))

    server = await asyncio.start_server(relay, address, port, reuse_address=True)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, port, target, target_port = sys.argv[1:5]
    asyncio.run(main(listen, int(port), target, int(target_port)))
