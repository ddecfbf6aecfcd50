"""A worker of the concurrent cookie test: python cookie_workers.py URL N.

Opens the cookie service, prints "ready", waits for a line on stdin (so every
worker starts writing at once), creates N cookies, authenticating every other
one, and prints their values and ids as JSON.
"""

from __future__ import annotations

import json
import sys

from cfxstore.cookies.service import CookieService


def main(url: str, n: int) -> None:
    with CookieService.open(url) as cookies:
        print("ready", flush=True)
        sys.stdin.readline()
        made = []
        for i in range(n):
            value, cookie = cookies.create(max_age=600)
            if i % 2 == 0:
                assert cookies.set_auth(value, "shared", "user", "ticket", None, "realm1")
            made.append([value, str(cookie.oid)])
    print(json.dumps(made), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
