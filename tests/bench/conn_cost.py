#!/usr/bin/python3
"""conn_cost.py: what one PostgreSQL connection costs the server in CPU, and how much of it
comes after the query has answered (the backend's exit).

Usage: tests/bench/conn_cost.py CONNINFO [N (40)]
The cluster must be on this machine (the postmaster's /proc is read). N times: connect, run
`SELECT 1`, read the backend's own CPU so far, disconnect. The total is what the postmaster's
reaped children used meanwhile (cutime + cstime), so run it on an otherwise idle cluster.
Not run by CTest or ./run bench; tests/bench/how_measured.md cites its figures.
"""
import ctypes
import ctypes.util
import os
import sys
import time


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rfind(")") + 2:].split()  # fields from the 3rd (state) on


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(next(line for line in __doc__.splitlines() if line.startswith("Usage")))
    conninfo = sys.argv[1].encode()
    n = int(sys.argv[2]) if len(sys.argv) == 3 else 40
    pq = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
    pq.PQconnectdb.restype = ctypes.c_void_p
    pq.PQconnectdb.argtypes = [ctypes.c_char_p]
    pq.PQstatus.argtypes = [ctypes.c_void_p]
    pq.PQerrorMessage.restype = ctypes.c_char_p
    pq.PQerrorMessage.argtypes = [ctypes.c_void_p]
    pq.PQexec.restype = ctypes.c_void_p
    pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    pq.PQclear.argtypes = [ctypes.c_void_p]
    pq.PQbackendPID.argtypes = [ctypes.c_void_p]
    pq.PQfinish.argtypes = [ctypes.c_void_p]
    tick = os.sysconf("SC_CLK_TCK")

    postmaster = None
    alive = 0
    start = 0
    for i in range(n):
        c = pq.PQconnectdb(conninfo)
        if pq.PQstatus(c) != 0:  # CONNECTION_OK
            message = " ".join(pq.PQerrorMessage(c).decode().split())
            sys.exit("conn_cost.py: cannot connect: " + message)
        pq.PQclear(pq.PQexec(c, b"SELECT 1"))
        backend = stat_fields(pq.PQbackendPID(c))
        if postmaster is None:
            postmaster = int(backend[1])  # the backend's parent
            f = stat_fields(postmaster)
            start = int(f[13]) + int(f[14])
        alive += int(backend[11]) + int(backend[12])  # utime + stime
        pq.PQfinish(c)
    time.sleep(1)  # the last backends exit and are reaped
    f = stat_fields(postmaster)
    total = int(f[13]) + int(f[14]) - start
    # (The first backend is reaped after `start` was read: all n are in `total`.)
    print(f"{n} connections: server CPU a connection {total * 1000 / tick / n:.1f} ms, "
          f"of which {alive * 1000 / tick / n:.1f} ms until its query had answered")


if __name__ == "__main__":
    main()
