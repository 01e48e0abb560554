#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from the crates' test fixtures.

Run from anywhere: `python3 fuzz/make-seeds.py`. The output is committed (small); libFuzzer
reads it as a second, read-only corpus dir (see README.md). Structured targets (sessions,
client) have no byte seeds: their inputs are `arbitrary` encodings, which the fuzzer finds fast.
"""
import pathlib
import re
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
SEEDS = FUZZ / "seeds"


def put(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def tftp_packets():
    def rrq(op, name, mode, *opts):
        b = struct.pack(">H", op) + name + b"\0" + mode + b"\0"
        for k, v in opts:
            b += k + b"\0" + v + b"\0"
        return b

    put("tftp_packet", "rrq-plain", rrq(1, b"pxelinux.0", b"octet"))
    put("tftp_packet", "rrq-edk2", rrq(1, b"bootx64.efi", b"octet", (b"tsize", b"0"), (b"blksize", b"1468")))
    put("tftp_packet", "rrq-window", rrq(1, b"ipxe.efi", b"octet", (b"blksize", b"1468"), (b"windowsize", b"16"), (b"tsize", b"0")))
    put("tftp_packet", "rrq-pxe-padding", rrq(1, b"pxelinux.0", b"octet", (b"tsize", b"0")) + b"\0\0\0")
    put("tftp_packet", "wrq-netascii", rrq(2, b"upload.txt", b"netascii", (b"timeout", b"3")))
    put("tftp_packet", "data", struct.pack(">HH", 3, 1) + bytes(range(256)) * 2)
    put("tftp_packet", "data-last", struct.pack(">HH", 3, 65535) + b"tail")
    put("tftp_packet", "ack", struct.pack(">HH", 4, 0))
    put("tftp_packet", "error-8", struct.pack(">HH", 5, 8) + b"User aborted the transfer\0")
    put("tftp_packet", "oack", struct.pack(">H", 6) + b"tsize\x0012345\x00blksize\x001468\x00")
    put("tftp_path", "plain", b"\x03pxelinux.0")
    put("tftp_path", "windows", b"\x03\\Boot\\BCD\xff\0")
    put("tftp_path", "dotdot", b"\x03../../etc/passwd")
    put("tftp_path", "prefix", b"\x0b/srv/tftp|/srv/tftp/pxelinux.cfg/01-52-54-00-12-34-56")


def dhcp_messages():
    text = (ROOT / "pxe-dhcp/tests/fixtures.rs").read_text()
    for m in re.finditer(r'const (\w+): &str = concat!\((.*?)\);', text, re.S):
        hexs = "".join(re.findall(r'"([0-9a-fA-F]+)"', m.group(2)))
        msg = bytes.fromhex(hexs)
        put("dhcp_message", m.group(1).lower(), msg)
        # The options of each fixture, one per seed for the option decoders.
        opts = msg[240:]
        i = 0
        while i + 1 < len(opts) and opts[i] != 255:
            if opts[i] == 0:
                i += 1
                continue
            code, n = opts[i], opts[i + 1]
            val = opts[i + 2:i + 2 + n]
            sel = {43: b"\x00", 175: b"\x60"}.get(code, b"\xff" + bytes([code]))
            put("dhcp_suboptions", f"{m.group(1).lower()}-{code}", sel + val)
            i += 2 + n
    # PXE 2.1 option 43 as proxyDHCP sends it: discovery control, boot servers, menu, prompt.
    put("dhcp_suboptions", "pxe-43-menu",
        b"\x00" + bytes([6, 1, 8, 8, 7, 0x80, 0, 1, 192, 0, 2, 1, 9, 12, 0x80, 0, 9])
        + b"PXE boot" + bytes([10, 5, 0]) + b"Boot" + b"\xff")


def menus():
    for f in sorted((ROOT / "pxe-menu/tests/fixtures").iterdir()):
        put("menu_parse", f.name, f.read_bytes())


tftp_packets()
dhcp_messages()
menus()
