"""agent.py — drive bin/barbacane-agent (a data-plane client) from pytest.

    from agent import Agent
    a = Agent(stack, project_id, api_key, name="edge-1")        # stack.ws_url() by default
    reg = a.wait_for("registered", timeout=10)
    a.wait_for("verified", lambda e: e["artifact_id"] == art_id, timeout=10)
    a.stop()

The agent prints one JSON object per line on stdout ({"event": ..., "session": ...,
"at_ms": ...}); a reader thread collects them. Its stderr (JSON log lines) goes to a file.
With a stack, the agent joins stack.procs: the stack kills it at teardown and attaches its log
tail to a failing test's report. Every wait is a bounded poll; nothing here sleeps blindly.
"""
import itertools
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import harness

AGENT_BIN = harness.AGENT_BIN
MAX_EVENTS = 1_000_000          # a runaway agent cannot eat the test's memory
_seq = itertools.count(1)


class Agent(harness.Proc):
    """One barbacane-agent process. Events are dicts, in the order the agent printed them.
    A harness.Proc for the stack (alive, log_text, repr), started here with stdout piped."""

    kind = "agent"

    def __init__(self, stack, project_id, api_key, name=None, url=None, extra=(), env=None,
                 work_dir=None, log_dir=None):
        if not os.access(AGENT_BIN, os.X_OK):
            raise AssertionError(f"{AGENT_BIN} is not built — run `make` first")
        self.stack = stack
        self.url = url or stack.ws_url()
        n = next(_seq)
        self.name = f"agent{n}" + (f"-{name}" if name else "")
        logdir = Path(log_dir or (stack.workdir if stack else
                                  tempfile.mkdtemp(prefix="bb-agent-")))
        self.logpath = str(logdir / f"{self.name}.log")
        self.work_dir = str(work_dir or (logdir / f"{self.name}-artifacts"))
        self.argv = [str(AGENT_BIN), "--url", self.url, "--project-id", str(project_id),
                     "--api-key", api_key, "--work-dir", self.work_dir,
                     "--instance", self.name]
        if name is not None:
            self.argv += ["--name", name]
        self.argv += [str(x) for x in extra]
        self._events = []
        self._cond = threading.Condition()
        self._eof = False
        self._stopped = False
        with open(self.logpath, "ab") as log:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=log,
                                          env=harness.clean_env(env), start_new_session=True)
        self.pid = self.popen.pid
        self.killed = True   # never a reason for Stack.wait_healthy to fail: it may exit on purpose
        self._reader = threading.Thread(target=self._read, name=self.name, daemon=True)
        self._reader.start()
        if stack is not None:
            stack.procs.append(self)


    # --- events
    def _read(self):
        for raw in self.popen.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                event = {"event": "unparsable", "line": raw.decode("utf-8", "replace")}
            with self._cond:
                if len(self._events) < MAX_EVENTS:
                    self._events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def events(self, event=None, since=0):
        """A copy of the events so far (only those named event, from index since on)."""
        with self._cond:
            got = self._events[since:]
        return [e for e in got if event is None or e.get("event") == event]

    def mark(self):
        """The index the next event will have: pass it as since= to wait for later ones."""
        with self._cond:
            return len(self._events)

    def wait_for(self, event, pred=None, timeout=10.0, since=0):
        """The first event named event (matching pred) from index since on; AssertionError with
        the agent's recent events and log after timeout or when the agent exited first."""
        return self.wait_count(event, 1, pred, timeout, since)[0]

    def wait_count(self, event, count, pred=None, timeout=10.0, since=0):
        """The first count events named event (matching pred) from index since on."""
        deadline = time.monotonic() + timeout * harness.TIME_FACTOR
        with self._cond:
            while True:
                hits = [e for e in self._events[since:] if e.get("event") == event
                        and (pred is None or pred(e))]
                if len(hits) >= count:
                    return hits[:count]
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(min(left, 0.5))
        why = "exited" if self._eof else f"timed out after {timeout}s"
        recent = "\n".join(json.dumps(e) for e in self.events()[-15:])
        raise AssertionError(f"{self.name} {why} waiting for {count} x {event!r} "
                             f"(got {len(hits)})\nrecent events:\n{recent}\n"
                             f"log tail:\n{harness.tail(self.logpath, 15)}")

    # --- stopping
    def stop(self, timeout=5.0):
        """SIGTERM by PID (a clean close of every session), SIGKILL if it lingers; the exit
        code."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self, timeout=5.0):
        return self._signal(signal.SIGKILL, timeout)

    def _signal(self, sig, timeout):
        self._stopped = True
        rc = self.signal(sig, timeout, escalate=True)
        self._reader.join(timeout=timeout)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
