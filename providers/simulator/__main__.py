"""``python -m providers.simulator --host 127.0.0.1 --port 8025``: serve the vendor simulator."""

from __future__ import annotations

import argparse
import sys

from providers.simulator.app import make_server
from providers.simulator.state import KINDS
from providers.simulator.vendors import VENDORS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, quiet=args.quiet)
    root = f"http://{args.host}:{server.server_port}"
    print(f"Sendwatch vendor simulator on {root}  (control API: {root}/_sim/)", file=sys.stderr)
    for kind in KINDS:
        print(f"  {kind:<12} {root}/{kind}/<account>{VENDORS[kind].prefix}", file=sys.stderr)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
