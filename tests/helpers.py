"""Running the real `pressfeed` command and server as subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from pressfeed.assembly import POSITION_TTL

PRESSFEED = str(Path(sys.executable).parent / "pressfeed")


def env_for(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSFEED_")}
    env.update(
        PRESSFEED_INSTANCE_DIR=str(settings.instance_dir),
        PRESSFEED_DATABASE_URL=settings.database_url,
        PRESSFEED_LANGUAGES=",".join(settings.languages),
    )
    if settings.base_url_configured:  # the same press office, by the same name
        env["PRESSFEED_BASE_URL"] = settings.base_url
    return env


def run_cli(
    settings,
    *args: str,
    check: bool = True,
    input: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PRESSFEED, *args],
        env=env_for(settings),
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pressfeed {' '.join(args)} failed:\n{result.stderr}")
    return result


def create_token(settings, role: str = "publisher", name: str = "press-office") -> str:
    output = run_cli(settings, "token", "create", "--role", role, "--name", name).stdout
    return output.strip().splitlines()[-1]


def token_secret(token: str) -> str:
    """The secret part of ``pf_<id>_<secret>``; the secret itself may hold ``_``."""
    secret = token.split("_", 2)[2]
    assert len(secret) >= 40
    return secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real `pressfeed serve` process on a free port."""

    def __init__(
        self,
        settings,
        *extra: str,
        log_file=None,
        base_url: bool = True,
        prefix: tuple[str, ...] = (),
        **env_overrides: str,
    ) -> None:
        """base_url=False leaves PRESSFEED_BASE_URL unset; prefix runs the
        server through a command (e.g. setpriv)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = env_for(settings)
        env.pop("PRESSFEED_BASE_URL", None)
        if base_url:
            env["PRESSFEED_BASE_URL"] = self.url
        env.update(env_overrides)
        self.process = subprocess.Popen(
            [*prefix, *self.command(*extra)],
            env=env,
            stdout=log_file or subprocess.DEVNULL,
            stderr=log_file or subprocess.PIPE,
            start_new_session=True,
        )
        self.wait_until_up()

    def command(self, *extra: str) -> list[str]:
        return [PRESSFEED, "serve", "--port", str(self.port), *extra]

    def wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
                raise AssertionError(f"the server exited: {output}")
            try:
                requests.get(f"{self.url}/healthz", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("pressfeed serve did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """kill -9 of the server and its worker process, as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Gunicorn(Server):
    """The scale-out web tier: gunicorn with several workers on create_app()."""

    def command(self, *extra: str) -> list[str]:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        return [
            gunicorn,
            "-w",
            "4",
            "-b",
            f"127.0.0.1:{self.port}",
            "--no-control-socket",
            *extra,
            "pressfeed.web:create_app()",
        ]


class Worker:
    """A `pressfeed worker` process: projections and scheduler."""

    def __init__(self, settings) -> None:
        self.process = subprocess.Popen(
            [PRESSFEED, "worker"],
            env=env_for(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_for_views(url: str, timeout: float = 30.0) -> None:
    """Until /healthz reports no projection lag, and every web process's reuse
    of the views' position it read before has expired."""
    deadline = time.monotonic() + timeout
    while requests.get(f"{url}/healthz", timeout=5).json()["projection_lag"]:
        if time.monotonic() > deadline:
            raise AssertionError("the views did not catch up")
        time.sleep(0.05)
    time.sleep(2 * POSITION_TTL)


def all_statement_ids(url: str, headers: dict[str, str]) -> set[str]:
    """Every statement in the publisher's list, following the cursors."""
    ids: set[str] = set()
    cursor = None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = requests.get(
            f"{url}/api/statements?{query}", headers=headers, timeout=10
        ).json()
        ids |= {s["id"] for s in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_SNIPPET = (
    Path(__file__).parent.parent / "docs" / "nginx" / "pressfeed-locations.conf"
)


class Nginx:
    """Debian's nginx run from a directory, in front of a pressfeed at upstream
    (host:port) with the deployment guide's own snippet; with static, also a
    plain file server on static_port for the same bytes as a baseline."""

    def __init__(
        self,
        directory: Path,
        upstream: str,
        static: Path | None = None,
        workers: int = 1,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.static_port = free_port()
        self.static_url = f"http://127.0.0.1:{self.static_port}"
        config = directory / "nginx.conf"
        config.write_text(self._config(directory, upstream, static, workers))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(config), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait_until_up()

    def _config(
        self, directory: Path, upstream: str, static: Path | None, workers: int
    ) -> str:
        user = "user root;" if os.geteuid() == 0 else ""
        static_server = (
            f"server {{ listen 127.0.0.1:{self.static_port}; root {static}; "
            "default_type application/atom+xml; }"
            if static
            else ""
        )
        temp = "\n".join(
            f"{kind}_temp_path {directory}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return f"""{user}
daemon off;
worker_processes {workers};
pid {directory}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    {temp}
    proxy_cache_path {directory}/cache keys_zone=pressfeed:10m max_size=1g inactive=1d;
    upstream pressfeed_web {{ server {upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{self.port};
        include {NGINX_SNIPPET};
    }}
    {static_server}
}}
"""

    def _wait_until_up(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
                raise AssertionError(f"nginx exited: {output}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def shown(url: str, text: str, timeout: float = 10.0, poll: float = 0.01) -> None:
    """Until the page or feed at url holds text."""
    deadline = time.monotonic() + timeout
    while text not in requests.get(url, timeout=5).text:
        assert time.monotonic() < deadline, f"{text!r} not at {url} after {timeout} s"
        time.sleep(poll)


def staleness(direct: str, cached: str, text: str, poll: float = 0.01) -> float:
    """Seconds between pressfeed (direct) showing text and a cache in front of it
    showing it, both polled in one loop (negative when the cache came first)."""
    sessions = {direct: requests.Session(), cached: requests.Session()}
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 10
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"{text!r} not shown after 10 s: {seen}"
        for url, session in sessions.items():
            if url not in seen and text in session.get(url, timeout=5).text:
                seen[url] = time.monotonic()
        time.sleep(poll)
    return seen[cached] - seen[direct]


class BusyReaders:
    """Readers polling url (a feed through a cache) without pause, counting how
    the cache answered them."""

    def __init__(self, url: str, readers: int = 3) -> None:
        self.url, self.statuses = url, []  # type: list[str]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read) for _ in range(readers)]

    def _read(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            response = session.get(self.url, timeout=5)
            self.statuses.append(response.headers.get("X-Cache-Status", ""))

    def __enter__(self) -> BusyReaders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
