"""The embedded broker: messages are never read half-written and never delivered twice."""

import multiprocessing
import os
from pathlib import Path

from kombu import Connection

import podium.celery  # noqa: F401  (registers the podiumfs transport)


def options(root: Path) -> dict:
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "claimed"),
        "control_folder": str(root / "control"),
    }


def put_many(root: str, count: int) -> None:
    with Connection("podiumfs://", transport_options=options(Path(root))) as conn:
        queue = conn.SimpleQueue("jobs")
        for i in range(count):
            queue.put({"n": i, "padding": "x" * 20_000})
        queue.close()


def drain(root: str, out: "multiprocessing.Queue", stop: "multiprocessing.Event") -> None:
    got = []
    with Connection("podiumfs://", transport_options=options(Path(root))) as conn:
        queue = conn.SimpleQueue("jobs")
        while True:
            stopping = stop.is_set()  # read before the get: nothing put earlier is missed
            try:
                message = queue.get(timeout=0.05)
            except queue.Empty:
                if stopping:
                    break
                continue
            got.append(message.payload["n"])
            message.ack()
        queue.close()
    out.put(got)


def test_folders_are_created_and_partial_files_are_invisible(tmp_path):
    put_many(str(tmp_path), 1)
    names = os.listdir(tmp_path / "queue")
    assert len(names) == 1 and names[0].endswith(".jobs.msg")
    (tmp_path / "queue" / (names[0] + ".partial")).write_bytes(b"{\"half")
    with Connection("podiumfs://", transport_options=options(tmp_path)) as conn:
        queue = conn.SimpleQueue("jobs")
        assert queue.get(timeout=1).payload["n"] == 0
        assert len(queue) == 0  # the .partial file is not a message
        queue.close()
    assert (tmp_path / "claimed").is_dir() and not os.listdir(tmp_path / "claimed")


def test_concurrent_producers_and_consumers_deliver_each_message_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    stop = ctx.Event()
    consumers = [ctx.Process(target=drain, args=(str(tmp_path), out, stop)) for _ in range(3)]
    producers = [ctx.Process(target=put_many, args=(str(tmp_path), 100)) for _ in range(2)]
    for process in consumers + producers:
        process.start()
    for process in producers:  # however slow the machine, every message is sent first
        process.join(timeout=120)
    stop.set()  # then the consumers take what is left and stop
    results = [out.get(timeout=120) for _ in consumers]
    for process in consumers + producers:
        process.join(timeout=60)
    delivered = sorted(n for got in results for n in got)
    assert delivered == sorted(list(range(100)) * 2)



def put_and_get_one(root: str, out: "multiprocessing.Queue") -> None:
    try:
        put_many(root, 1)
        with Connection("podiumfs://", transport_options=options(Path(root))) as conn:
            queue = conn.SimpleQueue("jobs")
            out.put(queue.get(timeout=5).payload["n"])
            queue.close()
    except Exception as exc:  # the parent asserts on what happened
        out.put(repr(exc))


def test_a_binding_table_being_created_reads_as_empty_not_as_a_crash(tmp_path):
    """Between a process creating a queue's binding table and writing it, another process
    declaring the same queue finds the file empty: that is an empty table (kombu's own transport
    died there with a JSONDecodeError). In a process of its own: kombu keeps the bindings it
    declared per process."""
    (tmp_path / "control").mkdir()
    (tmp_path / "control" / "jobs.exchange").write_bytes(b"")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=put_and_get_one, args=(str(tmp_path), out))
    process.start()
    assert out.get(timeout=120) == 0
    process.join(timeout=60)
    table = (tmp_path / "control" / "jobs.exchange").read_text()
    assert table.startswith("[") and '"jobs"' in table
