#!/usr/bin/env python3
"""An independent check of the charger's OCPP 1.6 security profiles.

Written from the OCPP 1.6 security whitepaper and field.md ("Connection security") only: it
knows the charger's command line and config file as documented, nothing of its code. It plays
the central system (Python `websockets` + `ssl`), makes its own throw-away certificate
authorities with the `openssl` command, starts the charger binary against itself and checks:

  * profiles 1, 2 and 3 connect with the right credentials (Basic auth user = charge point id,
    password = the AuthorizationKey's bytes; TLS with the CA it was given; client certificate);
  * a wrong password gets 401 again and again, with growing pauses, and never gets in;
  * a server certificate from a CA the charger was not given is refused;
  * a profile that does not match the URL scheme is refused at start.

Usage: independent-csms-security.py [--charger PATH]   (default: $CARGO_TARGET_DIR or
target/, debug/charger). Prints one line per check and "security: N passed, N failed".
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

CP_ID = "INDEP-CP-7"
GOOD_KEY = "6368617267657269672d696e646570656e64656e"  # 20 bytes
WRONG_KEY = "00112233445566778899aabbccddeeff"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_leaf(d: Path, ca: str, name: str, san: str, usage: str):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=d)


class Csms:
    """A central system: optional TLS (optionally requiring a client certificate) and
    optional Basic auth."""

    def __init__(self, tls=None, password=None):
        self.tls = tls
        self.password = password
        self.upgrades = []       # (time, status) of every upgrade request
        self.tls_hellos = 0      # TLS ClientHellos seen
        self.boots = 0
        self.client_cert_cn = None
        self.server = None
        self.port = None

    def _count_hello(self, *_):
        self.tls_hellos += 1

    async def start(self):
        if self.tls is not None:
            self.tls.sni_callback = self._count_hello
        self.server = await websockets.serve(
            self.handler, "127.0.0.1", 0, ssl=self.tls, subprotocols=["ocpp1.6"],
            process_request=self.check_request)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()

    def check_request(self, path, headers):
        ok = True
        if self.password is not None:
            ok = False
            auth = headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    user, _, password = base64.b64decode(auth[6:]).partition(b":")
                    ok = user == CP_ID.encode() and password == self.password
                except ValueError:
                    ok = False
        if not path.rstrip("/").endswith("/" + CP_ID):
            ok = False
        self.upgrades.append((time.monotonic(), 101 if ok else 401))
        if not ok:
            return (401, [("WWW-Authenticate", 'Basic realm="OCPP"')], b"")
        return None

    async def handler(self, ws, _path):
        peer = ws.transport.get_extra_info("peercert")
        if peer:
            self.client_cert_cn = dict(x[0] for x in peer["subject"]).get("commonName")
        try:
            await self.serve(ws)
        except websockets.ConnectionClosed:
            pass

    async def serve(self, ws):
        async for text in ws:
            msg = json.loads(text)
            if msg[0] != 2:
                continue
            action = msg[2]
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if action == "BootNotification":
                self.boots += 1
                payload = {"status": "Accepted", "currentTime": now, "interval": 300}
            elif action == "Heartbeat":
                payload = {"currentTime": now}
            elif action == "Authorize":
                payload = {"idTagInfo": {"status": "Accepted"}}
            else:
                payload = {}
            await ws.send(json.dumps([3, msg[1], payload]))

    def accepted(self):
        return sum(1 for _, s in self.upgrades if s == 101)

    def refused(self):
        return [t for t, s in self.upgrades if s == 401]


class Charger:
    def __init__(self, binary, work: Path, url, csms_lines, keys):
        self.dir = Path(tempfile.mkdtemp(dir=work))
        text = f'[identity]\ncharge_point_id = "{CP_ID}"\n\n[csms]\nurl = "{url}"\n'
        text += "reconnect_min_ms = 200\nreconnect_max_ms = 3000\npong_timeout_s = 5\n"
        text += "".join(f'{k} = "{v}"\n' for k, v in csms_lines.items())
        text += "\n[configuration]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
        (self.dir / "charger.toml").write_text(text)
        self.log = open(self.dir / "charger.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--board", f"sim:{self.dir / 'board'}", "--data-dir",
             str(self.dir / "data"), "--config", str(self.dir / "charger.toml")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def output(self):
        return (self.dir / "charger.log").read_text(errors="replace")


async def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


def server_tls(d: Path, leaf: str, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(d / f"{leaf}.pem", d / f"{leaf}.key")
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(d / f"{client_ca}.pem")
    return ctx


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    ap.add_argument("--charger", default=str(target / "debug" / "charger"))
    args = ap.parse_args()
    if not Path(args.charger).exists():
        sys.exit(f"no charger binary at {args.charger}: build it first (cargo build -p charger)")

    work = Path(tempfile.mkdtemp(prefix="indep-sec-"))
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n     {detail}"))

    try:
        make_ca(work, "csms-ca")
        make_ca(work, "rogue-ca")
        make_ca(work, "cp-ca")
        make_leaf(work, "csms-ca", "csms", "DNS:localhost", "serverAuth")
        make_leaf(work, "rogue-ca", "rogue", "DNS:localhost", "serverAuth")
        make_leaf(work, "cp-ca", CP_ID, f"DNS:{CP_ID}", "clientAuth")
        ca = str(work / "csms-ca.pem")
        good = bytes.fromhex(GOOD_KEY)

        async def run(name, csms, url_of, csms_lines, keys, verdict, seconds):
            await csms.start()
            charger = Charger(args.charger, work, url_of(csms.port), csms_lines, keys)
            try:
                ok, detail = await verdict(csms, charger, seconds)
            finally:
                charger.stop()
                await csms.stop()
            check(name, ok, f"{detail}\n--- charger output ---\n{charger.output()[-3000:]}")

        async def connects(csms, charger, seconds):
            ok = await wait_for(lambda: csms.boots >= 1, seconds)
            return ok, f"no BootNotification within {seconds} s; upgrades {csms.upgrades}"

        ws = lambda port: f"ws://127.0.0.1:{port}/ocpp"
        wss = lambda port: f"wss://localhost:{port}/ocpp"

        await run("profile 1: Basic auth with the AuthorizationKey connects",
                  Csms(password=good), ws, {},
                  {"SecurityProfile": "1", "AuthorizationKey": GOOD_KEY}, connects, 15)

        async def kept_out(csms, charger, seconds):
            await wait_for(lambda: len(csms.refused()) >= 4, seconds)
            refused = csms.refused()
            gaps = [b - a for a, b in zip(refused, refused[1:])]
            if csms.accepted():
                return False, "a wrong password got in"
            if len(refused) < 4:
                return False, f"only {len(refused)} attempts in {seconds} s: no retries"
            if not gaps[-1] > gaps[0] * 1.3:
                return False, f"no back-off between attempts: gaps {gaps}"
            if charger.proc.poll() is not None:
                return False, "the charger exited instead of retrying"
            return True, ""

        await run("profile 1: a wrong password gets 401, retried with back-off, never in",
                  Csms(password=good), ws, {},
                  {"SecurityProfile": "1", "AuthorizationKey": WRONG_KEY}, kept_out, 20)

        await run("profile 2: TLS with the given CA and Basic auth connects",
                  Csms(tls=server_tls(work, "csms"), password=good), wss, {"ca_file": ca},
                  {"SecurityProfile": "2", "AuthorizationKey": GOOD_KEY}, connects, 15)

        async def untrusted(csms, charger, seconds):
            await wait_for(lambda: csms.tls_hellos >= 2, seconds)
            if csms.upgrades:
                return False, f"the charger sent an upgrade over an untrusted TLS link: {csms.upgrades}"
            if csms.tls_hellos < 2:
                return False, f"{csms.tls_hellos} TLS attempts in {seconds} s: no retries"
            return True, ""

        await run("profile 2: a server certificate from another CA is refused",
                  Csms(tls=server_tls(work, "rogue"), password=good), wss, {"ca_file": ca},
                  {"SecurityProfile": "2", "AuthorizationKey": GOOD_KEY}, untrusted, 15)

        async def mutual(csms, charger, seconds):
            ok, detail = await connects(csms, charger, seconds)
            if ok and csms.client_cert_cn != CP_ID:
                return False, f"client certificate CN {csms.client_cert_cn!r}"
            return ok, detail

        await run("profile 3: TLS with a client certificate connects",
                  Csms(tls=server_tls(work, "csms", client_ca="cp-ca")), wss,
                  {"ca_file": ca, "client_cert": str(work / f"{CP_ID}.pem"),
                   "client_key": str(work / f"{CP_ID}.key")},
                  {"SecurityProfile": "3"}, connects, 15)

        for profile, url, lines in [("2", "ws://127.0.0.1:9/ocpp", {}),
                                    ("1", "wss://localhost:9/ocpp", {"ca_file": ca})]:
            charger = Charger(args.charger, work, url, lines,
                              {"SecurityProfile": profile, "AuthorizationKey": GOOD_KEY})
            try:
                code = charger.proc.wait(15)
            except subprocess.TimeoutExpired:
                code = None
            charger.stop()
            check(f"profile {profile} with {url.split(':')[0]}:// is refused at start",
                  code not in (None, 0), f"exit code {code}\n{charger.output()[-2000:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    passed = sum(results)
    print(f"security: {passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
