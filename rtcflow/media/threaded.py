"""Run a blocking iterator (a decoder, a generator of frames) on its own thread.

The thread stays at most ``prefetch`` items ahead of the consumer, so memory is bounded
and decoding overlaps whatever the consumer does with the previous frame. The event loop
never blocks: items cross over with ``call_soon_threadsafe`` and a semaphore gives the
thread back-pressure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception


_END = object()


class ThreadedIterator(Generic[T]):
    """An async iterator over ``make()``, which runs entirely on a worker thread.

    ``make`` is called on the thread too, so opening a file or device does not block the
    loop either. An exception raised by the iterator is re-raised by ``__anext__``.
    ``aclose()`` stops the thread and closes the iterator (its ``finally`` blocks run on
    the thread); a consumer waiting in ``__anext__`` then sees the end of iteration.
    """

    def __init__(
        self,
        make: Callable[[], Iterator[T]],
        *,
        prefetch: int = 2,
        name: str = "media-reader",
        join_timeout: float = 5.0,
    ) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self._make = make
        self._name = name
        self._join_timeout = join_timeout
        self._slots = threading.Semaphore(prefetch)
        self._stop = threading.Event()
        self._items: asyncio.Queue[object] | None = None
        self._thread: threading.Thread | None = None
        self._finished = False

    def __aiter__(self) -> ThreadedIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._finished:
            raise StopAsyncIteration
        if self._items is None:
            self._start()
        assert self._items is not None
        item = await self._items.get()
        self._slots.release()
        if item is _END:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.error
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stop the thread, close the iterator and wait (bounded) for the thread to end."""
        self._finished = True
        self._stop.set()
        self._slots.release()  # wake a thread waiting for room
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        await asyncio.to_thread(thread.join, self._join_timeout)
        if thread.is_alive():
            log.warning("%s: still blocked after %.1f s; abandoned", self._name, self._join_timeout)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._items = asyncio.Queue()  # bounded by the semaphore, not by maxsize
        self._thread = threading.Thread(
            target=self._run, args=(loop, self._items), name=self._name, daemon=True
        )
        self._thread.start()

    def _run(self, loop: asyncio.AbstractEventLoop, items: asyncio.Queue[object]) -> None:
        def deliver(item: object) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                self._stop.set()

        try:
            iterator = self._make()
            try:
                while True:
                    self._slots.acquire()
                    if self._stop.is_set():
                        break
                    try:
                        item = next(iterator)
                    except StopIteration:
                        break
                    deliver(item)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except Exception as error:
            deliver(_Failure(error))
        else:
            deliver(_END)
