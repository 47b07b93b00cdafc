/**
 * Cluster ids: which cluster a node's state belongs to. The founding members of a cluster derive the same
 * id from what they were all started with (their peer list and an optional token), as etcd derives its
 * cluster ID from --initial-cluster and --initial-cluster-token; a node that joins later, or whose state
 * predates cluster ids, learns it from its first peer. Peer links then refuse any node that names another
 * cluster (see the transport's handshake).
 */
import { StreamBusError } from "../errors.ts";
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

/**
 * The id of a cluster founded by `peers` with `token`: the first 8 bytes of a SHA-256 over both, in hex.
 * Independent of the order peers are listed in. Two clusters founded on the same addresses need different
 * tokens to tell them apart.
 */
export async function foundingClusterId(peers: readonly Peer[], token = ""): Promise<string> {
  const members = [...peers].sort((a, b) => a.id - b.id).map((p) => `${p.id}=${p.addr}`);
  const text = `streambus-cluster-v1\n${token}\n${members.join("\n")}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
