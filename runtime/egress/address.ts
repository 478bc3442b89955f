/** Which IP addresses a function may not reach: loopback, private, link-local and other special ranges. */

type Range = [prefix: bigint, bits: number, reason: string];

function v4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function v6(text: string): bigint | null {
  let address = text.replace(/^\[|\]$/g, "").split("%")[0]!.toLowerCase();
  const dotted = address.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const tail = v4(dotted[2]!);
    if (tail === null) return null;
    address = `${dotted[1]}${(tail >> 16n).toString(16)}:${(tail & 0xffffn).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

const V4_BLOCKED: Range[] = [
  [v4("0.0.0.0")!, 8, "the unspecified network"],
  [v4("10.0.0.0")!, 8, "a private network (10/8)"],
  [v4("100.64.0.0")!, 10, "shared address space (100.64/10)"],
  [v4("127.0.0.0")!, 8, "loopback"],
  [v4("169.254.0.0")!, 16, "link-local (169.254/16, cloud metadata)"],
  [v4("172.16.0.0")!, 12, "a private network (172.16/12)"],
  [v4("192.0.0.0")!, 24, "IETF protocol assignments"],
  [v4("192.168.0.0")!, 16, "a private network (192.168/16)"],
  [v4("198.18.0.0")!, 15, "benchmarking networks"],
  [v4("224.0.0.0")!, 4, "multicast"],
  [v4("240.0.0.0")!, 4, "reserved"],
];

const V6_BLOCKED: Range[] = [
  [0n, 128, "the unspecified address"],
  [1n, 128, "loopback (::1)"],
  [0n, 96, "an IPv4-compatible address (::/96)"],
  [v6("::ffff:0:0:0")!, 96, "an IPv4-translated address (::ffff:0:0:0/96)"],
  [v6("64:ff9b:1::")!, 48, "local-use NAT64 (64:ff9b:1::/48)"],
  [v6("100::")!, 64, "discard-only (100::/64)"],
  [v6("2001::")!, 32, "Teredo (2001::/32)"],
  [v6("2001:db8::")!, 32, "documentation"],
  [v6("2002::")!, 16, "6to4 (2002::/16)"],
  [v6("fc00::")!, 7, "a unique-local network (fc00::/7)"],
  [v6("fe80::")!, 10, "link-local (fe80::/10)"],
  [v6("fec0::")!, 10, "site-local (fec0::/10)"],
  [v6("ff00::")!, 8, "multicast"],
];

function inRange(value: bigint, width: number, [prefix, bits]: Range): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === prefix >> shift;
}

/** Whether `text` is an IP literal (v4, or v6 with or without brackets). */
export function isIpLiteral(text: string): boolean {
  return v4(text) !== null || v6(text) !== null;
}

/** Why `address` may not be reached, or null if it may. Unparseable input is blocked. */
export function blockedReason(address: string): string | null {
  const four = v4(address);
  if (four !== null) return V4_BLOCKED.find((r) => inRange(four, 32, r))?.[2] ?? null;
  const six = v6(address);
  if (six === null) return "not an IP address";
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address: judge that.
  if (six >> 32n === 0xffffn || six >> 32n === v6("64:ff9b::")! >> 32n) {
    const inner = six & 0xffffffffn;
    return V4_BLOCKED.find((r) => inRange(inner, 32, r))?.[2] ?? null;
  }
  return V6_BLOCKED.find((r) => inRange(six, 128, r))?.[2] ?? null;
}

/** Whether `address` is a loopback address (127/8, ::1, or an IPv4 loopback inside IPv6). */
export function isLoopback(address: string): boolean {
  const reason = blockedReason(address);
  return reason !== null && reason.startsWith("loopback");
}
