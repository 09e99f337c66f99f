"""A real Dovecot of the test's own: IMAP, POP3 and their TLS ports on loopback, thrown away after.

Debian's ``dovecot-imapd`` and ``dovecot-pop3d`` provide the binary; the system
service is not used. Each instance lives in a fresh folder with its own
configuration, sockets, log and maildir. One user, ``bounces``, signs in with a
password that a URL must percent-encode. The TLS ports present a self-signed
certificate for ``localhost``; a client trusts it through ``cafile``.

Run as root (as in CI), Dovecot's login processes run as ``dovenull``, its
internal ones as ``dovecot`` and the mail itself as ``nobody``; run as anyone
else, everything runs as that user.
"""

import getpass
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from tests.support.mail import free_port
from tests.support.web import self_signed

DOVECOT = os.environ.get("DOVECOT_PATH", "/usr/sbin/dovecot")
USER = "bounces"
PASSWORD = "p@ss/w%rd?#x"  # every character a URL must escape
HOST = "localhost"  # the certificate's name; Dovecot listens on 127.0.0.1 only

CONFIG = """\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
{extra}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"""


def _users() -> dict[str, str]:
    """Who runs the login processes, the internal ones, and the mail."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return {
            "login_user": "dovenull",
            "internal_user": "dovecot",
            "mail_user": str(nobody.pw_uid),
            "mail_group": str(nobody.pw_gid),
        }
    me = getpass.getuser()
    return {
        "login_user": me,
        "internal_user": me,
        "mail_user": str(os.getuid()),
        "mail_group": str(os.getgid()),
    }


class Dovecot:
    """One throwaway Dovecot. ``imap_capability`` replaces what IMAP advertises after login."""

    user = USER
    password = PASSWORD

    def __init__(self, imap_capability: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.root.chmod(0o755)  # the mail user must reach its maildir
        self.cafile, self._key = self_signed(self.root, HOST)
        self._users = _users()
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, int(self._users["mail_user"]), int(self._users["mail_group"]))
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self._extra = f"imap_capability = {imap_capability}" if imap_capability else ""
        self.config = self.root / "dovecot.conf"
        self._choose_ports()
        self.process: subprocess.Popen | None = None

    def _choose_ports(self) -> None:
        """Pick four free ports and write the configuration that listens on them."""
        self.ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s")}
        self.config.write_text(
            CONFIG.format(
                root=self.root,
                cert=self.cafile,
                key=self._key,
                extra=self._extra,
                **self._users,
                **self.ports,
            )
        )

    def url(self, scheme: str, folder: str = "", password: str | None = None) -> str:
        """``scheme://bounces:<password>@localhost:<port>/<folder>``, escaped as a URL must be."""
        secret = quote(self.password if password is None else password, safe="")
        path = f"/{quote(folder)}" if folder else ""
        return f"{scheme}://{USER}:{secret}@{HOST}:{self.ports[scheme]}{path}"

    @property
    def imap_url(self) -> str:
        """The plain IMAP URL of the inbox."""
        return self.url("imap")

    @property
    def pop3_url(self) -> str:
        """The plain POP3 URL of the maildrop."""
        return self.url("pop3")

    def start(self) -> None:
        """Run Dovecot in the foreground of a child process; return once IMAP and POP3 answer.

        A port picked as free can be taken by someone else before Dovecot binds it, so a
        first start that fails is tried again on fresh ports, twice, before giving up. Once
        it has answered, the ports stay the same across stop() and start()."""
        if self.process is not None:
            return  # running already
        for _ in range(3):
            failure = self._start_once()
            if failure is None:
                return
            if self._started_before:
                break
            self._choose_ports()
        raise RuntimeError(f"Dovecot did not start: {failure}")

    _started_before = False

    def _start_once(self) -> str | None:
        """Start Dovecot; None once it answers, or what it said when it did not."""
        stderr = self.root / "stderr.log"
        with stderr.open("wb") as sink:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,  # its own process group: stop() ends every session too
            )
        deadline = time.monotonic() + 30
        while not all(self._answers(self.ports[name]) for name in ("imap", "pop3")):
            if self.process.poll() is not None or time.monotonic() > deadline:
                why = "it exited" if self.process.poll() is not None else "no answer in 30 s"
                self.stop()
                said = stderr.read_text(errors="replace")[-1000:]
                return f"{why}; {said} {self.log()[-2000:]}".strip()
            time.sleep(0.05)
        self._started_before = True
        return None

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                return sock.recv(1).startswith((b"*", b"+"))
        except OSError:
            return False

    def stop(self) -> None:
        """Stop Dovecot and end the sessions open on it, as an outage would; the mail stays."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        deadline = time.monotonic() + 10
        while any(self._answers(port) for port in self.ports.values()):
            assert time.monotonic() < deadline, "Dovecot's ports stayed open"
            time.sleep(0.05)

    def remove(self) -> None:
        """Stop, and delete the instance's folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """What Dovecot wrote to its log."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _session(self) -> imaplib.IMAP4:
        session = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        session.login(USER, PASSWORD)
        return session

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a folder, as the mail server would (an IMAP APPEND)."""
        session = self._session()
        try:
            if folder != "INBOX":
                session.create(_quoted(folder))
            typ, data = session.append(_quoted(folder), None, None, raw)
            assert typ == "OK", data
        finally:
            session.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[bytes, set[str]]]:
        """Every message in a folder with its flags, oldest first; [] when there is no folder."""
        session = self._session()
        try:
            typ, _ = session.select(_quoted(folder), readonly=True)
            if typ != "OK":
                return []
            typ, data = session.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            found = []
            for item in data:
                if isinstance(item, tuple):
                    flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode()
                    found.append((item[1], set(flags.split())))
            return found
        finally:
            session.logout()

    def list(self, folder: str = "INBOX") -> list[bytes]:
        """The raw messages in a folder, oldest first."""
        return [raw for raw, _ in self.messages(folder)]


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
