"""The Dask distributed side of oscar-bench's task workloads (issue 14).

oscar-bench starts this driver once, with Debian's own Python
(/usr/bin/python3, where python3-distributed lives), and keeps it for the
whole run. The driver starts one cluster shaped as Oscar-C's:

    LocalCluster(n_workers=2, threads_per_worker=1, processes=True)

on 127.0.0.1, with a Client of its own event loop, and says so with one
JSON line, {"ready": true, ...}. Then it reads commands on stdin, one a
line, "WORKLOAD N", runs one round of that workload and answers with one
JSON line:

    {"workload": W, "figures": {"ROW": value, ...}}
    {"workload": W, "error": "why"}

where each ROW is the name of the oscar-bench row the figure goes beside,
in that row's unit. Anything else it prints goes to stderr. It stops the
cluster and exits when stdin closes.

Workloads, with the same trivial functions as Oscar-C's example task
functions (inc, sum) and two for the 64 MiB transfer:

    task-one N      N tasks inc(i), each submitted alone and its result
                    awaited: the p50 and p99 of the N latencies (us)
    tasks-10k N     client.map(inc, range(N)), then client.gather: tasks/s;
                    and the scheduler thread's CPU time per task (us)
    tasks-tree N    N inc leaves, N/100 sums of 100 leaves, one sum of the
                    sums, as one graph (client.get): tasks/s
    tasks-chain N   N inc tasks, each taking the one before, as one graph:
                    us per task
    tasks-bin64m N  make(N) on the first worker (N bytes, every byte
                    written), take(x) on the second (its length), then both
                    results gathered: GB/s over the 2N bytes moved
    tasks-cluster N in a fresh Python process: a second such cluster
                    started (to 2 workers connected to the client) and
                    stopped, in ms, and the RSS of its processes (MiB)

`python3 dask_peer.py --check` only imports distributed and prints its
version: what bench/peers/build.sh asks before it copies the driver.
"""

import json
import logging
import os
import subprocess
import sys
import time


def inc(x):
    return x + 1


def make(n):
    # Every byte written, as Oscar-C's make does (bytes(n) would only map
    # zero pages).
    return b"\x01" * n


def take(b):
    return len(b)


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rss_mib(pid):
    """The resident set size of process pid, in MiB, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS for process %d" % pid)


def percentile(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def new_cluster():
    from distributed import Client, LocalCluster

    # Only errors reach stderr (oscar-bench passes them on).
    logging.getLogger("distributed").setLevel(logging.ERROR)

    # The scheduler's HTTP server on a port the system picks, not 8787
    # (without Bokeh, which the bench does not install, it serves no
    # dashboard).
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    # A client of the scheduler's address gets an event loop (thread) of
    # its own, so the scheduler's thread does only the scheduler's work
    # (and the nannies', which LocalCluster keeps in this process).
    client = Client(cluster.scheduler_address, set_as_default=False)
    client.wait_for_workers(2, timeout=60)
    return cluster, client


class Driver:
    def __init__(self):
        self.cluster, self.client = new_cluster()
        workers = sorted(self.client.scheduler_info()["workers"])
        if len(workers) != 2:
            raise RuntimeError("%d workers, not 2" % len(workers))
        self.workers = workers
        self.round = 0
        import threading

        # The scheduler runs on an event loop thread of this process; its
        # CPU clock is read on that thread.
        self.sched_thread = self.client.run_on_scheduler(lambda: threading.get_ident())
        if self.sched_thread == threading.get_ident():
            raise RuntimeError("the scheduler runs on the caller's thread")
        # Warm up: functions pickled, connections made.
        self.client.gather(self.client.map(inc, range(100), pure=False))

    def close(self):
        self.client.close()
        self.cluster.close()

    def sched_cpu(self):
        return self.client.run_on_scheduler(time.thread_time)

    def task_one(self, n):
        lat = []
        for i in range(n):
            t0 = time.perf_counter()
            v = self.client.submit(inc, i, pure=False).result()
            lat.append((time.perf_counter() - t0) * 1e6)
            if v != i + 1:
                raise RuntimeError("inc(%d) gave %r" % (i, v))
        return {"task-one": percentile(lat, 50), "task-one-p99": percentile(lat, 99)}

    def tasks_10k(self, n):
        c0 = self.sched_cpu()
        t0 = time.perf_counter()
        futures = self.client.map(inc, range(n), pure=False)
        got = self.client.gather(futures)
        dt = time.perf_counter() - t0
        c1 = self.sched_cpu()
        del futures
        if got != list(range(1, n + 1)):
            raise RuntimeError("wrong results")
        return {"tasks-10k": n / dt, "tasks-sup-cpu": (c1 - c0) / n * 1e6}

    def tasks_tree(self, n):
        r = self.round
        fan = 100
        dsk = {}
        mids = []
        for m in range(n // fan):
            leaves = []
            for i in range(fan):
                k = "tree%d-l%d" % (r, m * fan + i)
                dsk[k] = (inc, m * fan + i)
                leaves.append(k)
            k = "tree%d-m%d" % (r, m)
            dsk[k] = (sum, leaves)
            mids.append(k)
        root = "tree%d-root" % r
        dsk[root] = (sum, mids)
        t0 = time.perf_counter()
        got = self.client.get(dsk, root)
        dt = time.perf_counter() - t0
        want = sum(range(1, (n // fan) * fan + 1))
        if got != want:
            raise RuntimeError("tree gave %r, not %r" % (got, want))
        return {"tasks-tree": len(dsk) / dt}

    def tasks_chain(self, n):
        r = self.round
        dsk = {"chain%d-0" % r: (inc, 0)}
        for i in range(1, n):
            dsk["chain%d-%d" % (r, i)] = (inc, "chain%d-%d" % (r, i - 1))
        last = "chain%d-%d" % (r, n - 1)
        t0 = time.perf_counter()
        got = self.client.get(dsk, last)
        dt = time.perf_counter() - t0
        if got != n:
            raise RuntimeError("chain gave %r, not %d" % (got, n))
        return {"tasks-chain": dt / n * 1e6}

    def tasks_bin64m(self, n):
        a, b = self.workers
        t0 = time.perf_counter()
        x = self.client.submit(make, n, pure=False, workers=[a], allow_other_workers=False)
        y = self.client.submit(take, x, pure=False, workers=[b], allow_other_workers=False)
        data, length = self.client.gather([x, y])
        dt = time.perf_counter() - t0
        where = self.client.who_has([y])
        del x, y
        if len(data) != n or length != n:
            raise RuntimeError("64 MiB: got %d and %d bytes" % (len(data), length))
        if list(where.values())[0] != (b,):
            raise RuntimeError("take ran on %r, not on %s" % (where, b))
        return {"tasks-bin64m": 2 * n / dt / 1e9}

    def cluster_round(self, n):
        # A fresh interpreter, so that the scheduler's process holds only
        # that cluster; it prints one JSON line.
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--cluster-once"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            timeout=180,
            check=True,
        ).stdout
        return json.loads(out.decode().strip().splitlines()[-1])

    def run(self, workload, n):
        self.round += 1
        table = {
            "task-one": self.task_one,
            "tasks-10k": self.tasks_10k,
            "tasks-tree": self.tasks_tree,
            "tasks-chain": self.tasks_chain,
            "tasks-bin64m": self.tasks_bin64m,
            "tasks-cluster": self.cluster_round,
        }
        if workload not in table:
            raise RuntimeError("no workload %s" % workload)
        if n < 1:
            raise RuntimeError("a count below 1")
        return table[workload](n)


def cluster_once():
    """Start a cluster, measure it, stop it; print the figures."""
    import threading  # noqa: F401  (imported before the clock, as distributed is)

    import distributed  # noqa: F401

    t0 = time.perf_counter()
    cluster, client = new_cluster()
    t1 = time.perf_counter()
    me = os.getpid()
    pids = sorted(client.run(os.getpid).values())
    workers = [rss_mib(p) for p in pids]
    sched = rss_mib(me)
    t2 = time.perf_counter()
    client.close()
    cluster.close()
    t3 = time.perf_counter()
    say(
        {
            "cluster-start": (t1 - t0) * 1e3,
            "cluster-stop": (t3 - t2) * 1e3,
            "rss-supervisor": sched,
            "rss-slot": sum(workers) / len(workers),
            "rss-cluster": sched + sum(workers),
        }
    )


def main():
    if sys.argv[1:] == ["--check"]:
        import distributed

        print(distributed.__version__)
        return 0
    if sys.argv[1:] == ["--cluster-once"]:
        cluster_once()
        return 0
    # Whatever Dask logs goes to stderr; stdout carries only answers.
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    try:
        import distributed

        driver = Driver()
    except Exception as e:  # noqa: BLE001 (any reason is shown as n/a)
        say({"ready": False, "error": "%s: %s" % (type(e).__name__, e)})
        return 1
    say(
        {
            "ready": True,
            "distributed": distributed.__version__,
            "python": sys.version.split()[0],
            "workers": driver.workers,
        }
    )
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            workload = words[0]
            try:
                if len(words) != 2:
                    raise RuntimeError("want: WORKLOAD N")
                figures = driver.run(workload, int(words[1]))
                say({"workload": workload, "figures": figures})
            except Exception as e:  # noqa: BLE001
                say({"workload": workload, "error": "%s: %s" % (type(e).__name__, e)})
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
