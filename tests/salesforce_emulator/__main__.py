"""Run the emulator by hand: python -m tests.salesforce_emulator --port 8443 [--host 127.0.0.1]."""

import argparse
import signal
import threading

from .server import SalesforceEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description="Emulated Salesforce org over HTTPS")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument(
        "--processing-delay", type=float, default=1.0, help="seconds per Bulk job state step"
    )
    arguments = parser.parse_args()
    emulator = SalesforceEmulator(host=arguments.host, port=arguments.port).start()
    emulator.settings.processing_delay = arguments.processing_delay
    print(f"Salesforce emulator at {emulator.url}")
    print(f"CA certificate: {emulator.ca_path}")
    print(f"  export REQUESTS_CA_BUNDLE={emulator.ca_path}")
    print(f"  export SALESFORCE_ALLOWED_HOSTS={emulator.host}")
    print(f"Login URL: {emulator.url}")
    print(
        f"User: {emulator.username}  password: {emulator.password}  "
        f"security token: {emulator.security_token}"
    )
    print(f"Connected app: {emulator.client_id} / {emulator.client_secret}")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
