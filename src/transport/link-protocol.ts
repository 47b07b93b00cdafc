/**
 * The peer-link wire protocol, one WebSocket binary message per frame. The first byte says what follows:
 * `DATA` frames carry one opaque payload (a Raft message or RPC, itself CBOR); `CONTROL` frames carry a
 * CBOR map of the handshake:
 *
 *   dialer → acceptor   hello     { t: "hello", v: 1, from, to, nonce, cluster? }
 *   acceptor → dialer   challenge { t: "challenge", nonce, mac?, cluster? }   mac = HMAC(secret, "acceptor"|from|to|nonces)
 *   dialer → acceptor   auth      { t: "auth", mac? }                mac = HMAC(secret, "dialer"|from|to|nonces)
 *   acceptor → dialer   ready     { t: "ready" }
 *   either way, once open: ping { t: "ping" } keeps an idle link provably alive
 *
 * Both sides prove the secret, bound to both nonces and both ids, so a recorded handshake cannot be
 * replayed and a node cannot claim another's id. Without a secret the macs are absent and the acceptor
 * only takes links from loopback addresses.
 *
 * `cluster` is the sender's cluster id, when it knows one. Each side refuses a link whose peer names
 * another cluster than its own, so two clusters never exchange a frame (etcd's cluster-ID check).
 */
import { Decoder, Encoder } from "cbor-x";
import { StreamBusError } from "../errors.ts";
import { isClusterId } from "../raft/cluster-id.ts";

export const FRAME_DATA = 0x01;
export const FRAME_CONTROL = 0x02;
export const PROTOCOL_VERSION = 1;
const NONCE_BYTES = 32;
const MAX_CONTROL_BYTES = 1024;

export type ControlMessage =
  | { t: "hello"; v: number; from: number; to: number; nonce: Uint8Array; cluster?: string }
  | { t: "challenge"; nonce: Uint8Array; mac?: Uint8Array; cluster?: string }
  | { t: "auth"; mac?: Uint8Array }
  | { t: "ready" }
  | { t: "ping" };

const encoder = new Encoder({ useRecords: false });
const decoder = new Decoder({ useRecords: false });

/** One DATA frame: the tag byte then the payload (copied, so the caller may reuse its buffer). */
export function encodeData(payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(payload.length + 1);
  out[0] = FRAME_DATA;
  out.set(payload, 1);
  return out;
}

export function encodeControl(msg: ControlMessage): Uint8Array<ArrayBuffer> {
  const body = encoder.encode(msg) as Uint8Array;
  const out = new Uint8Array(body.length + 1);
  out[0] = FRAME_CONTROL;
  out.set(body, 1);
  return out;
}

/** Parses a CONTROL frame body; throws StreamBusError "Corrupt" on anything not exactly a handshake message. */
export function decodeControl(frame: Uint8Array): ControlMessage {
  if (frame.length > MAX_CONTROL_BYTES) throw new StreamBusError("Corrupt", "control frame too large");
  let v: unknown;
  try {
    v = decoder.decode(frame.subarray(1));
  } catch {
    throw new StreamBusError("Corrupt", "control frame is not valid CBOR");
  }
  if (typeof v !== "object" || v === null) throw new StreamBusError("Corrupt", "control frame is not a map");
  const m = v as Record<string, unknown>;
  const isId = (x: unknown) => Number.isSafeInteger(x) && (x as number) > 0;
  const isNonce = (x: unknown) => x instanceof Uint8Array && x.length === NONCE_BYTES;
  const isMac = (x: unknown) => x === undefined || (x instanceof Uint8Array && x.length === 32);
  const isCluster = (x: unknown) => x === undefined || isClusterId(x);
  const cluster = (x: unknown) => (x === undefined ? {} : { cluster: x as string });
  switch (m.t) {
    case "hello":
      if (m.v === PROTOCOL_VERSION && isId(m.from) && isId(m.to) && isNonce(m.nonce) && isCluster(m.cluster)) {
        return { t: "hello", v: m.v, from: m.from as number, to: m.to as number, nonce: m.nonce as Uint8Array, ...cluster(m.cluster) };
      }
      break;
    case "challenge":
      if (isNonce(m.nonce) && isMac(m.mac) && isCluster(m.cluster)) {
        return { t: "challenge", nonce: m.nonce as Uint8Array, mac: m.mac as Uint8Array | undefined, ...cluster(m.cluster) };
      }
      break;
    case "auth":
      if (isMac(m.mac)) return { t: "auth", mac: m.mac as Uint8Array | undefined };
      break;
    case "ready":
      return { t: "ready" };
    case "ping":
      return { t: "ping" };
  }
  throw new StreamBusError("Corrupt", `malformed control frame (${String(m.t)})`);
}

export function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
}

/** An HMAC-SHA256 key derived from the cluster secret (Web Crypto). */
export async function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

function macInput(role: "dialer" | "acceptor", from: number, to: number, dialerNonce: Uint8Array, acceptorNonce: Uint8Array) {
  const head = new TextEncoder().encode(`streambus-link-v${PROTOCOL_VERSION}|${role}|${from}|${to}|`);
  const out = new Uint8Array(head.length + dialerNonce.length + acceptorNonce.length);
  out.set(head, 0);
  out.set(dialerNonce, head.length);
  out.set(acceptorNonce, head.length + dialerNonce.length);
  return out;
}

/** The mac one side sends: proves the secret for this handshake (ids and both nonces). */
export async function signHandshake(
  key: CryptoKey, role: "dialer" | "acceptor", from: number, to: number, dialerNonce: Uint8Array, acceptorNonce: Uint8Array,
): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, macInput(role, from, to, dialerNonce, acceptorNonce)));
}

/** Checks a received mac (crypto.subtle.verify compares in constant time). */
export async function verifyHandshake(
  key: CryptoKey, mac: Uint8Array | undefined, role: "dialer" | "acceptor", from: number, to: number,
  dialerNonce: Uint8Array, acceptorNonce: Uint8Array,
): Promise<boolean> {
  if (!mac) return false;
  return crypto.subtle.verify("HMAC", key, mac as Uint8Array<ArrayBuffer>, macInput(role, from, to, dialerNonce, acceptorNonce));
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (a === "::1" || a === "0:0:0:0:0:0:0:1") return true;
  if (a.startsWith("::ffff:")) a = a.slice(7);
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Splits `host:port` (IPv6 hosts bracketed) into its parts; throws Invalid on a bad address. */
export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new StreamBusError("Invalid", `address "${addr}" is not host:port (IPv6 hosts in brackets: [::1]:19001)`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** The ws:// URL of a peer's link endpoint. */
export function peerUrl(addr: string, path: string): string {
  const { host, port } = parseHostPort(addr);
  return `ws://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
}
