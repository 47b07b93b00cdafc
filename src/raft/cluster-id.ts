/**
 * Cluster ids: which cluster a node's state belongs to. The founding members of a cluster derive the same
 * id from what they were all started with (their peer list and an optional token), as etcd derives its
 * cluster ID from --initial-cluster and --initial-cluster-token; a node that joins later, or whose state
 * predates cluster ids, learns it from its first peer. Peer links then refuse any node that names another
 * cluster (see the transport's handshake).
 */
import { StreamBusError } from "../errors.ts";
import type { ClusterIdentity } from "../ports/transport.ts";
import type { Peer } from "./types.ts";

/** A cluster id as the handshake carries it: 1 to 64 letters, digits, ".", "_" or "-". */
export function isClusterId(x: unknown): x is string {
  return typeof x === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(x);
}

/** Returns `id` if it is a cluster id; throws StreamBusError "Invalid" otherwise (for Storage.setClusterId). */
export function checkClusterId(id: string): string {
  if (!isClusterId(id)) throw new StreamBusError("Invalid", `${JSON.stringify(id)} is not a cluster id (1 to 64 of A-Z a-z 0-9 . _ -)`);
  return id;
}

/** A cluster id read back from storage; throws StreamBusError "Corrupt" naming `where` if it is not one. */
export function storedClusterId(value: unknown, where: string, details: Record<string, unknown> = {}): string {
  if (!isClusterId(value)) throw new StreamBusError("Corrupt", `${where}: stored ${JSON.stringify(value)} is not a cluster id`, details);
  return value;
}

/** Whether nodes naming clusters `a` and `b` may link: unless both ids are known and differ. */
export function clustersAgree(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

/**
 * A transport's side of learning: a node without a cluster id takes `id` (from a peer's handshake) and
 * tells its owner. Returns false when it already had one (it keeps that one).
 */
export function learnClusterId(identity: ClusterIdentity, id: string): boolean {
  if (identity.clusterId !== undefined) return false;
  identity.clusterId = id;
  identity.onClusterId?.(id);
  return true;
}

/**
 * The id of a cluster founded by `peers` with `token`: a 64-bit FNV-1a hash of both, in hex. Independent of
 * the order peers are listed in. Two clusters founded on the same addresses need different tokens to tell
 * them apart. (An identifier, not a secret: the cluster secret authenticates links.)
 */
export function foundingClusterId(peers: readonly Peer[], token = ""): string {
  const members = [...peers].sort((a, b) => a.id - b.id).map((p) => `${p.id}=${p.addr}`);
  return fnv1a64(new TextEncoder().encode(`streambus-cluster-v1\n${token}\n${members.join("\n")}`));
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a over `bytes`, 64 bits, as 16 hex digits. */
function fnv1a64(bytes: Uint8Array): string {
  let h = FNV_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h.toString(16).padStart(16, "0");
}
