"""A Mosquitto configured like a production broker: TLS, password file and ACL, all made in a tmp dir.

Certificates come from ``openssl`` (a throw-away CA signs a server certificate for 127.0.0.1/localhost
and a client certificate), the password file from ``mosquitto_passwd -b``. The ACL gives the station
user write access to its own prefix only, so tests can prove a daemon cannot publish outside it.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from auroral.edge.tools.broker import LocalBroker
from support.mqttcollect import Collector

STATION = "kiruna"
USERS = {"station": "aurora-s3cret", "observer": "look-only"}
ACL = f"""\
user station
topic readwrite auroral/{STATION}/#
topic read auroral/+/alerts

user observer
topic read auroral/#
topic write auroral/+/alerts
topic write auroral/test/#
"""


def _run(*command: str, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()[-400:]}")


def make_certificates(directory: Path) -> dict[str, Path]:
    """CA, server (SAN 127.0.0.1 + localhost) and client certificates, PEM, 2048-bit RSA, one day."""
    directory.mkdir(parents=True, exist_ok=True)
    ossl = shutil.which("openssl")
    if ossl is None:
        raise RuntimeError("openssl is not installed: apt-get install openssl")
    _run(ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=auroral test CA",
         "-keyout", "ca.key", "-out", "ca.crt", cwd=directory)
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "localhost"), ("client", "station")):
        _run(ossl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
        extra = ["-extfile", "server.ext"] if name == "server" else []
        _run(ossl, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "1", "-out", f"{name}.crt", *extra, cwd=directory)
    for key in directory.glob("*.key"):
        key.chmod(0o644)  # mosquitto drops privileges; the keys are throw-away
    return {name: directory / name for name in
            ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def write_password_file(path: Path, users: dict[str, str]) -> Path:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise RuntimeError("mosquitto_passwd is not installed: apt-get install mosquitto")
    path.unlink(missing_ok=True)
    path.touch()
    for user, password in users.items():
        _run(tool, "-b", str(path), user, password, cwd=path.parent)
    path.chmod(0o644)
    return path


class SecureBroker(LocalBroker):
    """A TLS-only listener with ``allow_anonymous false``, a password file and an ACL.

    ``require_client_cert`` makes the client certificate mandatory as well. ``set_users`` rewrites the
    password file and reloads the broker (SIGHUP), as an operator fixing credentials would.
    """

    def __init__(self, users: dict[str, str] | None = None, acl: str = ACL, require_client_cert: bool = False):
        super().__init__()
        self.host = "127.0.0.1"
        self.users = dict(USERS if users is None else users)
        self._dir.chmod(0o755)  # mosquitto started as root drops to its own user, which must read these
        self.certs = make_certificates(self._dir / "certs")
        self.password_file = write_password_file(self._dir / "passwd", self.users)
        self.acl_file = self._dir / "acl"
        self.acl_file.write_text(acl)
        self.options.update({
            "allow_anonymous": "false",
            "password_file": str(self.password_file),
            "acl_file": str(self.acl_file),
            "cafile": str(self.certs["ca.crt"]),
            "certfile": str(self.certs["server.crt"]),
            "keyfile": str(self.certs["server.key"]),
            "require_certificate": "true" if require_client_cert else "false",
            "tls_version": "tlsv1.2",
        })

    def set_users(self, users: dict[str, str]) -> None:
        self.users = dict(users)
        write_password_file(self.password_file, self.users)
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def station_config(self, secrets: Path, base: dict | None = None, password: str | None = None,
                       ca_file: Path | None = None) -> dict:
        """The daemon's ``[mqtt]`` settings for this broker; the password goes to a file in ``secrets``."""
        secrets.mkdir(parents=True, exist_ok=True)
        password_file = secrets / "mqtt-password"
        password_file.write_text((self.users.get("station", USERS["station"]) if password is None else password) + "\n")
        password_file.chmod(0o600)
        base = dict(base or {})
        mqtt = {**base.get("mqtt", {}), "username": "station", "password_file": str(password_file),
                "tls": True, "ca_file": str(ca_file or self.certs["ca.crt"])}
        return {**base, "mqtt": mqtt}

    def secure(self, client, user: str, password: str):
        """Configure a paho client for this broker: TLS verified against the test CA, and credentials."""
        client.tls_set(ca_certs=str(self.certs["ca.crt"]))
        client.username_pw_set(user, password)
        return client

    def collector(self, topic_filter: str, user: str = "observer") -> Collector:
        """A :class:`Collector` that logs in as ``user`` over TLS."""
        collector = Collector(self, topic_filter)
        self.secure(collector.client, user, self.users[user])
        return collector
