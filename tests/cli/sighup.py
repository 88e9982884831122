#!/usr/bin/env python3
"""tests/cli/sighup.py BINDWATCH CAPTURE: an offline run reading a FIFO gets SIGHUP
half-way, after its output file was moved away (logrotate): the events after the
signal go to a new file at the old path, none is lost, and a policy made invalid
before the signal is refused while the old one stays. Prints "sighup: N passed, N failed"."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

bw, cap = sys.argv[1], sys.argv[2]
d = tempfile.mkdtemp(prefix="bw-sighup.")
passed = failed = 0


def check(name, ok):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name)
    if ok:
        passed += 1
    else:
        failed += 1


try:
    fifo = os.path.join(d, "in.pcap")
    os.mkfifo(fifo)
    out = os.path.join(d, "ev.json")
    pol = os.path.join(d, "policy.yaml")
    with open(pol, "w") as f:
        f.write("owned:\n  domains: [example.com]\n")
    err = open(os.path.join(d, "err"), "w+")
    p = subprocess.Popen([bw, "-q", "-r", fifo, "-c", pol, "-o", "jsonl:" + out, "--reader", "libpcap"], stderr=err)
    data = open(cap, "rb").read()
    w = open(fifo, "wb")
    w.write(data[: len(data) // 2])
    w.flush()
    time.sleep(0.7)
    os.rename(out, out + ".1")
    with open(pol, "w") as f:
        f.write("owned:\n  domians: [example.com]\n")
    p.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    w.write(data[len(data) // 2:])
    w.close()
    rc = p.wait(timeout=30)
    err.seek(0)
    msg = err.read()
    a = sum(1 for _ in open(out + ".1"))
    b = sum(1 for _ in open(out)) if os.path.exists(out) else 0
    full = subprocess.run([bw, "-q", "-r", cap, "-o", "jsonl:-"], capture_output=True, text=True).stdout.count("\n")
    check("the run exits 0 after SIGHUP (exit %d)" % rc, rc == 0)
    check("events before the signal stay in the moved file (%d) and later ones go to a new file (%d)" % (a, b),
          a > 0 and b > 0)
    check("no event lost or doubled across the reopen (%d + %d = %d)" % (a, b, full), a + b == full)
    check("the broken policy is refused and the old one kept", "refused" in msg and "policy.yaml:2:3" in msg)
finally:
    shutil.rmtree(d, ignore_errors=True)
print("sighup: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
