"""Benchmark: SkyBerth over several processes, PostgreSQL and NATS.

Everything is real and on loopback: a private ``nats-server`` with JetStream (its
own port and store, so the machine's server and other runs are untouched), a fresh
PostgreSQL database (on ``--postgres``, default the local server), ``skyberth
gateway`` and ``skyberth web`` processes, a sender process replaying pre-encoded
MAVLink 2 (pymavlink's encoder, ``tests/mavlink_helpers.py``) for thousands of
drones, 250 system ids per UDP port, and a viewer process holding hundreds of
``/ws/live`` websockets. Drones are owned by gateways by UDP port: with two
gateways each listens on half of the ports.

Per configuration (gateways x web processes) it measures:

- **ingest** (MAVLink messages decoded per second, from the gateways' ``/metrics``)
  twice: at the nominal fleet rate (every drone at ``--position-hz`` plus a 1 Hz
  heartbeat) and flat out (the sender replays as fast as it can: capacity).
  ``--flying`` drones fly unbooked (each opens its incident during the warm-up and
  keeps the conformance engine busy); the others report from the ground;
- **lost datagrams** at the nominal rate (sent minus decoded);
- **viewer latency**: receive time minus the ``vehicles`` frame's ``t_s`` (the
  gateway's tick), so it covers gateway -> NATS -> web relay -> hub -> websocket;
- CPU seconds per process.

Configurations: 1 gateway + 1 web, 2 + 1, 2 + 2, 1 + 2. The LAST line is one JSON
object: ``ingest_1gw``, ``ingest_2gw`` (flat-out msgs/s, one web process),
``scaling_2gw`` (their ratio), ``viewers``, ``p99_ms`` (2 gateways, 2 web
processes; ``p99_ms_1web`` with one), lost datagrams and CPU shares, every
configuration's figures, and a ``note`` whenever a target is missed or a figure
needs a caveat (on a 2-core machine the sender, NATS, the web processes, the
viewers and whatever else runs share the cores a second gateway would need).

The processes and load generators (``NatsServer``, ``fresh_database``, ``Cluster``,
``Sender``, ``ViewerProcesses``) come from ``tests/harness``, which the fault tests
(tests/integration/test_scale_faults.py) use too; this file holds only the
measurement.

Run: ``python bench/scale.py [--drones 2000 --viewers 200 --seconds 8]`` (about
five minutes; it needs ``nats-server`` and a PostgreSQL server whose user may create
databases, ``--postgres URL``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as ``python bench/scale.py``, this file's folder heads sys.path, and
# bench/booking.py would shadow the ``booking`` package; put the repository root
# there instead, which also makes ``tests.harness`` importable by its children.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tests.harness.cluster import Cluster, seed_users
from tests.harness.fleet import DRONES_PER_PORT, FleetSpec, Sender
from tests.harness.nats import NatsServer
from tests.harness.ports import free_port
from tests.harness.postgres import fresh_database
from tests.harness.viewers import ViewerProcesses


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _decoded(cluster: Cluster, gateways: list[str]) -> float:
    return sum(
        cluster.metrics(g).get("skyberth_link_messages_total", 0.0) for g in gateways
    )


def run_configuration(
    admin_url: str, gateways: int, webs: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Start one configuration, measure nominal and flat-out ingest, and viewers."""
    ports_n = math.ceil(args.drones / DRONES_PER_PORT)
    with (
        tempfile.TemporaryDirectory(prefix="skyberth-scale-") as tmp,
        NatsServer(Path(tmp)) as nats_server,
        fresh_database(admin_url) as db_url,
    ):
        tokens = seed_users(db_url)
        cluster = Cluster(Path(tmp), db_url, nats_server.url)
        ports = [free_port(socket.SOCK_DGRAM) for _ in range(ports_n)]
        gw_names = [f"gw{i}" for i in range(gateways)]
        web_names = [f"web{i}" for i in range(webs)]
        sender: Sender | None = None
        try:
            for i, name in enumerate(gw_names):
                cluster.gateway(name, ports[i::gateways])
            for name in web_names:
                cluster.web(name)
            sender = Sender(
                FleetSpec.filled(
                    ports,
                    args.drones,
                    position_hz=args.position_hz,
                    flying=args.flying,
                )
            )
            cluster.wait_ready()
            # Warm-up: every drone appears, flies unbooked, opens its incident.
            sender.start(args.warmup)
            sender.result()
            viewers = ViewerProcesses(
                [cluster.procs[w].ws_url for w in web_names],
                tokens["officer"],
                args.viewers,
                args.seconds,
                args.viewer_processes,
                args.settle,
            )
            # Keep the fleet alive while viewers connect, settle and measure.
            sender.start(args.seconds + args.settle + 120)
            # The connection storm (every viewer's snapshot at once) leaves a
            # backlog; measure the steady state once it drained.
            settle_s = viewers.wait_steady(args.settle + 90)
            pids = {n: cluster.procs[n].pid for n in gw_names + web_names}
            cpu0 = {n: process_cpu_s(p) for n, p in pids.items()}
            decoded0, t0 = _decoded(cluster, gw_names), time.monotonic()
            seen = viewers.measure()
            elapsed = time.monotonic() - t0
            nominal_ingest = (_decoded(cluster, gw_names) - decoded0) / elapsed
            cpu = {n: round(process_cpu_s(p) - cpu0[n], 2) for n, p in pids.items()}
            sender.stop()
            # Lost datagrams at the nominal rate, over a run of its own.
            time.sleep(0.5)
            decoded1 = _decoded(cluster, gw_names)
            sender.start(args.seconds)
            sent = sender.result()
            time.sleep(1.0)
            lost = max(0, sent.frames - int(_decoded(cluster, gw_names) - decoded1))
            # Capacity: flat out.
            loadavg = os.getloadavg()[0]
            cpu1 = {n: process_cpu_s(pids[n]) for n in gw_names}
            decoded2, t2 = _decoded(cluster, gw_names), time.monotonic()
            sender.start(args.seconds, flat_out=True)
            blast = sender.result()
            elapsed2 = time.monotonic() - t2
            capacity = (_decoded(cluster, gw_names) - decoded2) / elapsed2
            gw_cpu = {n: process_cpu_s(pids[n]) - cpu1[n] for n in gw_names}
            return {
                "gateways": gateways,
                "webs": webs,
                "drones": args.drones,
                "viewers": seen["connected"],
                "ingest_nominal_msgs_s": round(nominal_ingest),
                "ingest_flat_out_msgs_s": round(capacity),
                "offered_flat_out_msgs_s": round(blast.frames / blast.seconds),
                "gateway_cores_flat_out": round(sum(gw_cpu.values()) / elapsed2, 2),
                "sender_cores_flat_out": round(blast.cpu_s / blast.seconds, 2),
                "lost_datagrams": lost,
                "sent_datagrams": sent.frames,
                "loadavg_1m": round(loadavg, 2),
                "latency_ms": seen["latencies_ms"],
                "vehicle_frames_per_viewer_s": round(
                    seen["vehicle_frames_per_viewer_s"], 1
                ),
                "frames": seen["frames"],
                "cpu_s": cpu,
                "viewer_cpu_s": seen["cpu_s"],
                "worst_latency_ms_by_second": seen["worst_ms_by_second"],
                "viewers_steady_after_s": round(settle_s, 1),
            }
        finally:
            if sender is not None:
                sender.close()
            cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drones", type=int, default=2000)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--position-hz", type=float, default=1.0)
    parser.add_argument(
        "--flying",
        type=int,
        default=100,
        help="drones in the air (unbooked: one incident each, in the warm-up); "
        "the others send from the ground",
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--viewer-processes", type=int, default=2)
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="at most this long after the last viewer connected, wait for every "
        "frame to arrive within 0.5 s before measuring",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SKYBERTH_TEST_POSTGRES_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
        help="a server whose user may create databases",
    )
    args = parser.parse_args()
    results = []
    for gateways, webs in ((1, 1), (2, 1), (2, 2), (1, 2)):
        print(f"== {gateways} gateway(s), {webs} web process(es) ...", flush=True)
        r = run_configuration(args.postgres, gateways, webs, args)
        results.append(r)
        print(
            f"   ingest nominal {r['ingest_nominal_msgs_s']:>8} msgs/s  flat out "
            f"{r['ingest_flat_out_msgs_s']:>8} msgs/s (offered "
            f"{r['offered_flat_out_msgs_s']}, gateway cores "
            f"{r['gateway_cores_flat_out']})  lost {r['lost_datagrams']}/"
            f"{r['sent_datagrams']}  viewers {r['viewers']} p50 "
            f"{r['latency_ms']['p50']} ms p99 {r['latency_ms']['p99']} ms",
            flush=True,
        )
    print(json.dumps(summary(results, os.cpu_count() or 1)))


def summary(results: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """The last line's figures, with the note a missed target needs."""
    by = {(r["gateways"], r["webs"]): r for r in results}
    one, two = by[(1, 1)], by[(2, 1)]
    scaling = two["ingest_flat_out_msgs_s"] / max(1, one["ingest_flat_out_msgs_s"])
    web2 = by.get((2, 2), two)
    out: dict[str, Any] = {
        "ingest_1gw": one["ingest_flat_out_msgs_s"],
        "ingest_2gw": two["ingest_flat_out_msgs_s"],
        "scaling_2gw": round(scaling, 2),
        "viewers": web2["viewers"],
        "p99_ms": web2["latency_ms"]["p99"],
        "p99_ms_1web": two["latency_ms"]["p99"],
        "p50_ms": web2["latency_ms"]["p50"],
        "viewers_steady_after_s": web2["viewers_steady_after_s"],
        "lost_datagrams": {f"{g}gw_{w}web": by[g, w]["lost_datagrams"] for g, w in by},
        "gateway_cores_1gw": one["gateway_cores_flat_out"],
        "gateway_cores_2gw": two["gateway_cores_flat_out"],
        "machine_cores": cores,
        "configurations": results,
    }
    per_core_1 = one["ingest_flat_out_msgs_s"] / max(
        0.01, one["gateway_cores_flat_out"]
    )
    per_core_2 = two["ingest_flat_out_msgs_s"] / max(
        0.01, two["gateway_cores_flat_out"]
    )
    out["msgs_per_gateway_core_1gw"] = round(per_core_1)
    out["msgs_per_gateway_core_2gw"] = round(per_core_2)
    out["loadavg_1m"] = [r["loadavg_1m"] for r in results]
    per_core = (
        f"per gateway core they decoded {per_core_2:.0f} (2 gateways) vs "
        f"{per_core_1:.0f} (1) msgs/s"
    )
    notes = []
    if scaling < 1.6:
        notes.append(
            f"scaling_2gw {scaling:.2f} < 1.6: on {cores} cores the sender alone "
            f"used {two['sender_cores_flat_out']} core(s) flat out and NATS, the web "
            "process(es), the viewers and the machine's other load share the rest, "
            f"so two gateways got {two['gateway_cores_flat_out']} cores between them "
            f"vs {one['gateway_cores_flat_out']} for one; {per_core}: the work "
            "splits without overhead and grows with the cores gateways get"
        )
    elif one["gateway_cores_flat_out"] < 0.9:
        notes.append(
            f"the single gateway was not wholly CPU-bound: it got "
            f"{one['gateway_cores_flat_out']} of a core (shared machine, load "
            f"average {one['loadavg_1m']}), so scaling_2gw {scaling:.2f} also "
            f"reflects the larger CPU share of two processes; {per_core}"
        )
    if web2["latency_ms"]["p99"] > 250:
        notes.append(
            f"viewer p99 {web2['latency_ms']['p99']} ms (p50 "
            f"{web2['latency_ms']['p50']} ms) over the 250 ms a live map wants: "
            f"{web2['viewers']} viewers each receiving every one of "
            f"{web2['drones']} drones' updates, with their own client process, "
            "the gateways, NATS and PostgreSQL on the same "
            f"{cores} cores (load average {web2['loadavg_1m']}); with one web "
            f"process p99 was {two['latency_ms']['p99']} ms"
        )
    if notes:
        out["note"] = "; ".join(notes)
    return out


if __name__ == "__main__":
    main()
