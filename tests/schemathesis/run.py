#!/usr/bin/env python3
"""Schemathesis against Enamel's served OpenAPI document, as a practice admin and as
a security officer (issue 14): no server errors, and every status, content type and
response body as documented. Starts `enamel serve --demo` on loopback (SQLite, or a
fresh PostgreSQL database when --postgres URL is given), signs each role in with its
second factor, runs schemathesis bounded in examples and time, and stops everything.

Usage: run.py ENAMEL_BINARY OUT_DIR [--postgres ADMIN_URL] [--max-time SECONDS]
Exit status: 0 when every check passed for both roles.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def totp(secret_b32: str, at: float) -> str:
    """RFC 6238 with SHA-1, 30-second steps, six digits (what Enamel asks)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = struct.pack(">Q", int(at) // 30)
    digest = hmac.new(key, step, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


class Client:
    def __init__(self, url: str):
        parsed = urllib.parse.urlparse(url)
        self.origin = url
        self.host, self.port = parsed.hostname, parsed.port
        self.cookie = None

    def request(self, method, path, body=None, content_type=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Origin": self.origin}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if content_type:
            headers["Content-Type"] = content_type
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and "Max-Age=0" not in value:
                self.cookie = value.split(";", 1)[0]
        connection.close()
        return response.status, data


def signed_in(url: str, email: str, password: str) -> str:
    """A full session for an account that must enrol a second factor first."""
    client = Client(url)
    status, body = client.request(
        "POST",
        "/api/v1/sessions",
        json.dumps({"email": email, "password": password}),
        "application/json",
    )
    if status != 200:
        raise SystemExit(f"sign-in as {email} answered {status}")
    step = json.loads(body)["next"]
    if step == "enrol_second_factor":
        status, page = client.request("GET", "/sign-in/enrol")
        secret = re.search(rb"<code>([A-Z2-7]+)</code>", page)
        if status != 200 or not secret:
            raise SystemExit(f"no enrolment page for {email} ({status})")
        code = totp(secret.group(1).decode(), time.time())
        status, _ = client.request(
            "POST",
            "/sign-in/enrol",
            urllib.parse.urlencode({"code": code}),
            "application/x-www-form-urlencoded",
        )
        if status != 200:
            raise SystemExit(f"enrolment of {email} answered {status}")
    elif step != "none":
        raise SystemExit(f"unexpected sign-in step {step} for {email}")
    return client.cookie


def start_server(binary, data_dir, database_url, log):
    env = dict(os.environ, ENAMEL_DATA_DIR=data_dir, ENAMEL_LOG_FORMAT="json")
    if database_url:
        env["ENAMEL_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [binary, "serve", "--demo", "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        text=True,
    )
    lines = []
    url = None
    deadline = time.time() + 120
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Enamel is running at "):
            url = line.split()[-1]
        if line.startswith("Press Ctrl-C"):
            break
    if not url:
        process.kill()
        raise SystemExit("the demo did not start:\n" + "".join(lines))
    # Each role from a practice of its own: what one fuzzes (deactivating accounts,
    # changing roles) cannot lock the other out.
    logins = {}
    used = set()
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) == 3 and "@" in parts[1] and parts[0] not in logins and parts[2] not in used:
            if parts[0] in ("practice_admin", "security_officer"):
                logins[parts[0]] = parts[1]
                used.add(parts[2])
    password = re.search(r'password "([^"]+)"', "".join(lines)).group(1)
    return process, url, logins, password


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("out")
    parser.add_argument("--postgres")
    parser.add_argument("--max-time", type=int, default=150)
    parser.add_argument("--max-examples", type=int, default=25)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="enamel-schemathesis-")
    database = None
    database_url = None
    if args.postgres:
        database = f"enamel_test_schemathesis_{os.getpid()}"
        subprocess.run(["psql", args.postgres, "-qc", f'CREATE DATABASE "{database}"'], check=True)
        database_url = args.postgres.rsplit("/", 1)[0] + "/" + database
    backend = "postgres" if database else "sqlite"
    log = open(os.path.join(args.out, f"schemathesis-server-{backend}.log"), "w")
    process, url, logins, password = start_server(args.binary, data_dir, database_url, log)
    failed = 0
    try:
        # Both sign in first: fuzzing the public sign-in operation soon throttles
        # this address, as it should.
        cookies = {
            role: signed_in(url, logins[role], password)
            for role in ["practice_admin", "security_officer"]
        }
        for role, cookie in cookies.items():
            print(f"==> schemathesis as {role} ({backend}) against {url}", flush=True)
            report = os.path.join(args.out, f"schemathesis-{backend}-{role}.xml")
            result = subprocess.run(
                [
                    "schemathesis",
                    "run",
                    f"{url}/api/v1/openapi.json",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    str(args.max_examples),
                    "--max-time",
                    str(args.max_time),
                    "--workers",
                    "1",
                    "--seed",
                    "14",
                    "--generation-allow-x00",
                    "true",
                    "--generation-with-security-parameters",
                    "false",
                    "--generation-database",
                    "none",
                    "--request-timeout",
                    "10",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--report",
                    "junit",
                    "--report-junit-path",
                    report,
                    "--no-color",
                    # Ending a session by its id would end the fuzzer's own.
                    "--exclude-path",
                    "/api/v1/sessions/{id}",
                    "-H",
                    f"Cookie: {cookie}",
                    "-H",
                    f"Origin: {url}",
                ],
                check=False,
            )
            if result.returncode != 0:
                failed += 1
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        if database:
            subprocess.run(
                ["psql", args.postgres, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
                check=False,
            )
    print(f"schemathesis ({backend}): {'every check held for both roles' if not failed else f'{failed} role(s) with failures'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
