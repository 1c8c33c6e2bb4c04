"""kombu's filesystem transport, made safe for the embedded default (one machine, no server).

Why this transport: it needs no server process, survives restarts (messages are files), and works
between ``runserver`` and ``celery worker`` on one machine. SQLAlchemy's transport would need
another dependency and polls a database that SQLite already serialises.

What kombu 5.7 ships does two unsafe things, fixed here:
- a message file is written in place, so a worker polling the folder can read a half-written
  file (empty reads were seen under load; one killed a worker with a JSONDecodeError). We write
  to a temporary name that the reader ignores and ``os.replace`` it into place;
- a consumer claims a message by ``shutil.move`` into the system temp folder, which is a copy
  when that folder is on another filesystem, so two workers could both deliver it. We claim by
  ``os.rename`` inside the broker folder: exactly one consumer wins;
- a queue's binding table (the control folder's ``<exchange>.exchange``) is created empty and
  only then locked and written, so a process declaring the same queue at that moment read an
  empty table and died with a JSONDecodeError (seen under load in CI). We create, read and
  write it under one exclusive lock, and read an empty file as an empty table.
The folders must be absolute and exist; settings.py puts them under the data folder.
A SIGKILLed worker loses the message it was processing (the file was already claimed); the
evaluation reaper re-queues such work.
"""

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder,
                       self.control_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)

    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # ignored by readers: its suffix is not ".msg"
        with open(partial, "wb") as fh:
            fh.write(str_to_bytes(dumps(payload)))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, final)

    def _get(self, queue):
        suffix = f".{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != suffix[1:]:
                continue
            claimed = os.path.join(self.processed_folder, f"{os.getpid()}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as fh:
                    payload = fh.read()
            finally:
                os.remove(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()


    def _queue_bind(self, exchange, routing_key, pattern, queue):
        file = self._exchange_file(exchange)
        Path(self.control_folder).mkdir(parents=True, exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        descriptor = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "rb+", buffering=0) as table:
            filesystem.lock(table, filesystem.LOCK_EX)
            try:
                queues = _entries(table.read())
                if entry not in queues:
                    queues.insert(0, entry)
                    table.seek(0)
                    table.truncate()
                    table.write(str_to_bytes(dumps(queues)))
            finally:
                filesystem.unlock(table)

    def get_table(self, exchange):
        try:
            with self._exchange_file(exchange).open("rb") as table:
                filesystem.lock(table, filesystem.LOCK_SH)
                try:
                    raw = table.read()
                finally:
                    filesystem.unlock(table)
        except FileNotFoundError:
            return []
        return _entries(raw)


def _entries(raw: bytes) -> list:
    """A binding table's entries; an empty file (being created) is an empty table."""
    return [filesystem.exchange_queue_t(*entry) for entry in loads(bytes_to_str(raw))] if raw \
        else []


class Transport(filesystem.Transport):
    Channel = Channel
