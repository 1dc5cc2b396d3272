"""Independent peer check of Zählwerk's Modbus code against pymodbus (run by bench/modbus_peer.sh).

1. pymodbus *client* against `zaehlwerk sim`: Modbus TCP and RTU over TCP; SDM630 registers decode to
   plausible values (float32 ABCD), the device's limits answer with the right exceptions (more than 80
   registers or an odd count: 0x03), an unserved unit id answers 0x0B like a TCP/RTU gateway.
2. `zaehlwerk gateway` against a pymodbus *server* holding an SDM630 image with known values: the readings
   it publishes on a private mosquitto carry exactly those values in canonical units (kWh -> Wh).

Prints one line per check and exits non-zero on the first failure.
"""

import argparse
import asyncio
import logging
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer import FramerType
from pymodbus.server import StartAsyncTcpServer


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, secs=15):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"FAIL: nothing listens on {port} after {secs}s")


def f32(regs):
    return struct.unpack(">f", struct.pack(">HH", regs[0], regs[1]))[0]


def check(name, ok, detail=""):
    detail = str(detail)
    if ok and len(detail) > 100:
        detail = detail[:97] + "..."
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def client_checks(port, framer, label):
    c = ModbusTcpClient("127.0.0.1", port=port, framer=framer, timeout=2, retries=0)
    check(f"{label}: connect", c.connect())
    rr = c.read_input_registers(0x0000, count=76, slave=1)
    check(f"{label}: FC04 0x0000 x76 (one SDM630 block)", not rr.isError() and len(rr.registers) == 76, rr)
    v = [f32(rr.registers[i:i + 2]) for i in (0, 2, 4)]
    check(f"{label}: voltages L1-L3 decode as float32 ABCD near 230 V", all(200 < x < 260 for x in v), v)
    hz = f32(rr.registers[0x46:0x48])
    check(f"{label}: frequency near 50 Hz", 49.5 < hz < 50.5, hz)
    rr = c.read_input_registers(0x0048, count=4, slave=1)
    imp, exp = f32(rr.registers[0:2]), f32(rr.registers[2:4])
    rt = c.read_input_registers(0x0156, count=2, slave=1)
    tot = f32(rt.registers)
    check(f"{label}: 0x0156 = import + export (not net)", abs(tot - (imp + exp)) <= 1e-3 * max(1.0, tot),
          (imp, exp, tot))
    rr = c.read_input_registers(0x0000, count=82, slave=1)
    check(f"{label}: 82 registers -> exception 0x03 (limit 80)",
          rr.isError() and getattr(rr, "exception_code", None) == 3, rr)
    rr = c.read_input_registers(0x0000, count=3, slave=1)
    check(f"{label}: odd count -> exception 0x03", rr.isError() and getattr(rr, "exception_code", None) == 3, rr)
    rr = c.read_input_registers(0x0000, count=2, slave=200)
    check(f"{label}: unserved unit id -> exception 0x0B",
          rr.isError() and getattr(rr, "exception_code", None) == 0x0B, rr)
    c.close()


KNOWN = {  # PDU address -> value written into the pymodbus server's input registers
    0x0000: 231.5, 0x0002: 229.25, 0x0004: 230.0, 0x0006: 1.5, 0x0008: 2.25, 0x000A: 0.5,
    0x000C: 300.0, 0x000E: 450.0, 0x0010: -100.0, 0x0034: 650.0, 0x0046: 50.02,
    0x0048: 1234.5, 0x004A: 12.25, 0x0156: 1246.75,
}
EXPECTED = {"voltage_l1": 231.5, "voltage_l2": 229.25, "current_l1": 1.5, "active_power_l3": -100.0,
            "active_power": 650.0, "frequency": 50.02, "energy_import": 1234500.0, "energy_export": 12250.0}


async def serve_known(port):
    regs = [0] * 0x0180
    for addr, val in KNOWN.items():
        hi, lo = struct.unpack(">HH", struct.pack(">f", val))
        regs[addr], regs[addr + 1] = hi, lo
    # pymodbus adds 1 to request addresses for its data blocks: start the block at 1 so PDU 0 is regs[0].
    unit = ModbusSlaveContext(ir=ModbusSequentialDataBlock(1, regs))
    ctx = ModbusServerContext(slaves={7: unit}, single=False)
    await StartAsyncTcpServer(context=ctx, address=("127.0.0.1", port))


def gateway_check(binary, work):
    mqtt, metrics, mb = free_port(), free_port(), free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {mqtt} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n")
    procs = []
    try:
        procs.append(subprocess.Popen(["mosquitto", "-c", conf]))
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(mb)])
        procs.append(server)
        wait_port(mqtt)
        wait_port(mb)
        c = ModbusTcpClient("127.0.0.1", port=mb, timeout=2, retries=0)
        c.connect()
        rr = c.read_input_registers(0x0048, count=2, slave=7)
        check("pymodbus server: own client reads 1234.5 at 0x0048", abs(f32(rr.registers) - 1234.5) < 1e-3, rr)
        c.close()
        gw = os.path.join(work, "gateway.toml")
        with open(gw, "w") as f:
            f.write(f'[bus]\nport = {mqtt}\n[log]\nfilter = "warn"\n[telemetry]\nmetrics_listen = "127.0.0.1:{metrics}"\n'
                    '[[sites]]\nid = "peer"\nkind = "building"\n[[sites.devices]]\nid = "pm1"\n'
                    f'source = {{ type = "modbus", endpoint = "tcp://127.0.0.1:{mb}", unit_id = 7, '
                    'profile = "sdm630", interval = "1s" }\n')
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(mqtt), "-t", "zw/v1/readings/peer/pm1", "-C", "2",
                                "-W", "30"], stdout=subprocess.PIPE, text=True)
        procs.append(sub)
        time.sleep(0.3)  # mosquitto_sub has no readiness signal; the gateway polls every second anyway
        procs.append(subprocess.Popen([binary, "gateway", "--config", gw], stderr=open(os.path.join(work, "gw.log"), "w")))
        out, _ = sub.communicate(timeout=40)
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        check("gateway -> pymodbus server: readings published", len(lines) == 2, out[:200])
        vals = lines[-1]["values"]
        for q, want in EXPECTED.items():
            got = vals.get(q)
            check(f"gateway reading {q} = {want}", got is not None and abs(got - want) <= 1e-4 * max(1, abs(want)), got)
        check("gateway reading has no value for unmapped 0x0156 (import+export)", "energy_total" not in vals, vals.keys())
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/zaehlwerk")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # it logs every exception response at error
    if a.serve:
        asyncio.run(serve_known(a.serve))
        return
    work = tempfile.mkdtemp(prefix="zw-peer.")
    tcp, rtu = free_port(), free_port()
    sim = os.path.join(work, "sim.toml")
    with open(sim, "w") as f:
        f.write('[bus]\nport = 1\n[log]\nfilter = "error"\n[sim]\nmodbus_listen = "127.0.0.1:0"\n'
                'meters = []\nplugs = []\nsoil_sensors = []\nupdate_interval = "1s"\nfleets = [\n'
                f'  {{ profile = "sdm630", count = 3, listen = "127.0.0.1:{tcp}", units_per_listener = 3 }},\n'
                f'  {{ profile = "sdm630", count = 3, listen = "127.0.0.1:{rtu}", units_per_listener = 3, framing = "rtu" }},\n]\n')
    p = subprocess.Popen([a.bin, "sim", "--config", sim], stderr=open(os.path.join(work, "sim.log"), "w"))
    try:
        wait_port(tcp)
        wait_port(rtu)
        client_checks(tcp, FramerType.SOCKET, "sim Modbus TCP")
        client_checks(rtu, FramerType.RTU, "sim RTU over TCP")
    finally:
        p.terminate()
        p.wait(timeout=5)
    gateway_check(a.bin, work)
    print("all peer checks passed")


if __name__ == "__main__":
    main()
