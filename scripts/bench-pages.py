#!/usr/bin/env python3
"""Pages rendered on read: a sandbox binary, 100 settled orders, then the best of 5 rounds of N
reads of a page of 100 orders and of 100 events on one keep-alive connection.

    python3 scripts/bench-pages.py target/release/sophic-sandbox [N=400]
"""
import http.client, json, subprocess, sys, time
bin_ = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
p = subprocess.Popen([bin_, "--host", "127.0.0.1", "--port", "0", "--clock", "held"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
for line in p.stdout:
    if line.startswith("Sophic sandbox listening on "):
        url = line.split()[-1]; break
host, port = url.split("//")[1].rstrip("/").split(":")
c = http.client.HTTPConnection(host, int(port))
def req(method, path, body=None, token=None):
    h = {"Content-Type": "application/json"} if body is not None else {}
    if token: h["Authorization"] = "Bearer " + token
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse(); data = r.read(); return r.status, data
s, d = req("POST", "/sandbox/accounts", {"cash": {"USD": "1000000.00"}}); d = json.loads(d)
acc, tok = d["account"]["id"], d["token"]
for i in range(100):
    req("POST", f"/accounts/{acc}/orders", {"instrument": "ins_xyz789", "order_type": "market", "side": "buy", "cash_amount": "10.00"}, tok)
req("POST", "/sandbox/clock/settle", {})
path = f"/accounts/{acc}/orders?limit=100"
for _ in range(50): req("GET", path, token=tok)
def best(path):
    """The best of 5 rounds of n reads of path, in µs a read, with the last answer."""
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            status, data = req("GET", path, token=tok)
        times.append((time.perf_counter() - t) / n * 1e6)
    return min(times), status, data
best_orders, _, data = best(path)
best_events, s, data2 = best("/events?limit=100")
print(f"{bin_}: orders page of 100 ({len(data)} B) best {best_orders:.0f} us; events page ({len(data2)} B, {s}) best {best_events:.0f} us")
p.kill()
