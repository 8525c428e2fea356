"""One pass of the reference product's Scout (sentri-dba 5.2.0 from PyPI) over an IMAP mailbox,
timed, for `cargo bench --bench intake_side_by_side`.

Nothing of the reference is patched. The driver does what `sentri start` does to build the
Scout (a fresh SENTRI_HOME initialised by the reference's own initializer, its sentri.yaml with
the email section, its Database, repositories, PolicyLoader and AgentContext, its logging) and
then runs the Scout's own `run_loop` for exactly one pass: the loop's stop event is an Event that
reads "not set" once, so the loop body runs once and its wait ends the loop. The server's
certificate is trusted through SSL_CERT_FILE (the reference calls imaplib.IMAP4_SSL with the
default context), set by the caller.

Usage: python reference_scout.py HOST PORT USER EXPECTED_EMAILS   (password in SENTRI_EMAIL_PASSWORD)
Prints one JSON line: seconds (the pass), emails (read, i.e. no longer UNSEEN), workflows,
errors (Scout log records at ERROR), peak_rss_mib (VmHWM of this process).
"""

import imaplib
import json
import logging
import os
import ssl
import sys
import tempfile
import threading
import time


class OnePass(threading.Event):
    """A stop event that lets `run_loop` run its body once: unset at the first check, set by the
    loop's wait after the pass."""

    def __init__(self):
        super().__init__()
        self._checked = False

    def is_set(self):
        if not self._checked:
            self._checked = True
            return False
        return True

    def wait(self, timeout=None):
        self.set()
        return True


class ErrorCount(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0
        self.messages = []

    def emit(self, record):
        self.count += 1
        self.messages.append(record.getMessage())


def unseen(host, port, user, password):
    mail = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context())
    try:
        mail.login(user, password)
        mail.select("INBOX", readonly=True)
        _, data = mail.search(None, "UNSEEN")
        return len(data[0].split())
    finally:
        mail.logout()


def main():
    host, port, user, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    password = os.environ["SENTRI_EMAIL_PASSWORD"]
    home = tempfile.mkdtemp(prefix="sentri-reference-")
    os.environ["SENTRI_HOME"] = home

    # Imported after SENTRI_HOME is set: the reference reads it at import time.
    from sentri.agents.base import AgentContext
    from sentri.agents.scout import ScoutAgent
    from sentri.config import initializer
    from sentri.config.paths import CONFIG_PATH, DB_PATH, LOG_PATH, SENTRI_HOME
    from sentri.config.settings import Settings
    from sentri.db.audit_repo import AuditRepository
    from sentri.db.connection import Database
    from sentri.db.environment_repo import EnvironmentRepository
    from sentri.db.workflow_repo import WorkflowRepository
    from sentri.logging_config import setup_logging
    from sentri.policy.loader import PolicyLoader

    initializer.initialize()
    CONFIG_PATH.write_text(
        "email:\n"
        f"  imap_server: {host}\n"
        f"  imap_port: {port}\n"
        f"  username: {user}\n"
        "  use_ssl: true\n"
        "databases: []\n"
        "monitoring:\n"
        "  log_level: INFO\n",
        encoding="utf-8",
    )
    settings = Settings.load()
    setup_logging(LOG_PATH, settings.monitoring.log_level)
    errors = ErrorCount()
    logging.getLogger("sentri").addHandler(errors)

    db = Database(DB_PATH)
    db.initialize_schema()
    context = AgentContext(
        db=db,
        workflow_repo=WorkflowRepository(db),
        audit_repo=AuditRepository(db),
        environment_repo=EnvironmentRepository(db),
        policy_loader=PolicyLoader(SENTRI_HOME),
        settings=settings,
    )
    scout = ScoutAgent(context)
    scout._stop_event = OnePass()

    started = time.perf_counter()
    scout.run_loop(poll_interval=0)
    seconds = time.perf_counter() - started

    workflows = db.execute_read("SELECT count(*) AS n FROM workflows")[0]["n"]
    left = unseen(host, port, user, password)
    with open("/proc/self/status", encoding="utf-8") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "emails": expected - left,
                "workflows": workflows,
                "errors": errors.count,
                "error_messages": errors.messages[:3],
                "peak_rss_mib": kib / 1024.0,
            }
        )
    )


if __name__ == "__main__":
    main()
