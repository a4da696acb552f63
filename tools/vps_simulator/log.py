"""Request log that tests can read. Headers are never recorded (tokens stay out)."""

import collections
import threading
import time

MAX_ENTRIES = 50000  # bounded so long benchmark runs cannot exhaust memory


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries = collections.deque(maxlen=MAX_ENTRIES)
        self._seq = 0

    def add(self, **entry):
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "time": time.time(), **entry}
            self._entries.append(entry)
            return entry

    def entries(self):
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self):
        with self._lock:
            self._entries.clear()
