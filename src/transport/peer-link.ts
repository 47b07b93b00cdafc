/**
 * One WebSocket between two nodes, from either end: runs the handshake of link-protocol.ts, then passes
 * DATA frames up. Anything malformed, oversized or unauthenticated closes the link with a reason.
 */
import { isStreamBusError } from "../errors.ts";
import { clustersAgree } from "../raft/cluster-id.ts";
import type { NodeId } from "../raft/types.ts";
import {
  type ControlMessage, decodeControl, encodeControl, FRAME_CONTROL, FRAME_DATA, isLoopback, randomNonce,
  signHandshake, verifyHandshake,
} from "./link-protocol.ts";

/** The minimum a link needs from a socket, whichever runtime or side made it. */
export interface LinkSocket {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Bytes handed to the socket but not yet written out (0 when unknown). */
  bufferedAmount(): number;
}

export type RejectReason =
  | "malformed" | "oversized" | "unauthenticated" | "text" | "protocol" | "timeout" | "wrong-node" | "wrong-cluster";

/** What a link needs from its transport. */
export interface LinkHost {
  readonly selfId: NodeId;
  readonly secretKey: CryptoKey | undefined;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** This node's cluster id, when known. */
  clusterId(): string | undefined;
  /** An authenticated peer named its cluster: adopt it if this node knows none yet (else keep its own). */
  learnClusterId(id: string): void;
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** The handshake finished; the host may refuse the link (a duplicate) by returning a reason. */
  linkReady(link: PeerLink): string | undefined;
  linkClosed(link: PeerLink, code: number, reason: string): void;
  data(link: PeerLink, payload: Uint8Array): void;
  rejected(link: PeerLink, reason: RejectReason, message: string): void;
}

type State = "hello" | "challenge" | "auth" | "ready" | "open" | "closed";

// WebSocket close codes (RFC 6455): 1008 policy violation, 1009 message too big, 1003 unsupported data.
const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;
const CLOSE_UNSUPPORTED = 1003;
const CLOSE_PROTOCOL = 1002;
const MAX_BACKLOG = 64;

export class PeerLink {
  /** The peer's id: known up front when dialing, learned from hello when accepting. */
  peerId: NodeId | undefined;
  state: State;
  private dialerNonce: Uint8Array | undefined;
  private acceptorNonce: Uint8Array | undefined;
  /** The cluster id the peer named in its handshake, if any. */
  private peerCluster: string | undefined;
  private chain: Promise<void> | undefined;
  private backlog = 0;
  private timer: unknown;
  /** Clock time of the last frame received (for the liveness check). */
  lastReceived = 0;

  constructor(
    private readonly host: LinkHost,
    readonly socket: LinkSocket,
    readonly role: "dialer" | "acceptor",
    peerId: NodeId | undefined,
    readonly remoteAddress: string | undefined,
  ) {
    this.peerId = peerId;
    this.state = role === "dialer" ? "challenge" : "hello";
    this.timer = host.setTimer(() => {
      if (this.state !== "open" && this.state !== "closed") this.reject("timeout", CLOSE_POLICY, "handshake timed out");
    }, host.handshakeTimeoutMs);
  }

  /** The id of the node that dialed this link. */
  get dialerId(): NodeId | undefined {
    return this.role === "dialer" ? this.host.selfId : this.peerId;
  }

  /** Dialer: the socket opened, say hello. */
  opened(): void {
    if (this.role !== "dialer" || this.state !== "challenge") return;
    this.dialerNonce = randomNonce();
    this.sendControl({ t: "hello", v: 1, from: this.host.selfId, to: this.peerId!, nonce: this.dialerNonce, ...this.ownCluster() });
  }

  /** Sends one DATA frame (already tagged). */
  sendFrame(frame: Uint8Array): void {
    this.socket.send(frame);
  }

  /** One received WebSocket message, in arrival order. */
  receive(raw: unknown): void {
    if (this.state === "closed") return;
    if (this.chain || isBlob(raw)) {
      // Keep order behind an async step (handshake crypto or a Blob read).
      if (++this.backlog > MAX_BACKLOG && this.state !== "open") {
        this.reject("protocol", CLOSE_POLICY, "too many frames before the handshake finished");
        return;
      }
      const p: Promise<void> = (this.chain ?? Promise.resolve()).then(async () => {
        this.backlog--;
        const bytes = isBlob(raw) ? new Uint8Array(await raw.arrayBuffer()) : raw;
        await this.process(bytes);
      });
      this.chain = p;
      void p.then(() => {
        if (this.chain === p) this.chain = undefined;
      });
      return;
    }
    const r = this.process(raw);
    if (r) {
      const p: Promise<void> = r.then(() => {
        if (this.chain === p) this.chain = undefined;
      });
      this.chain = p;
    }
  }

  /** The socket closed (either side). */
  closed(code = 1006, reason = ""): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.host.clearTimer(this.timer);
    this.host.linkClosed(this, code, reason);
  }

  /** Closes the link with a reason the peer sees. */
  close(code: number, reason: string): void {
    if (this.state === "closed") return;
    // Web-standard sockets (Deno's, browsers') only accept 1000 and 3000-4999 from close(): fall back to
    // the 4xxx mirror of the protocol code (1008 → 4008), then to a bare close.
    const text = reason.slice(0, 120);
    const attempts = [() => this.socket.close(code, text), () => this.socket.close(4000 + (code % 1000), text), () => this.socket.close(1000, text)];
    for (const attempt of attempts) {
      try {
        attempt();
        break;
      } catch {
        // Try the next form.
      }
    }
    this.closed(code, reason);
  }

  private reject(reason: RejectReason, code: number, message: string): void {
    if (this.state === "closed") return;
    this.host.rejected(this, reason, message);
    this.close(code, message);
  }

  /** Sends a keep-alive on an open link. */
  ping(): void {
    if (this.state === "open") this.sendControl({ t: "ping" });
  }

  private process(raw: unknown): Promise<void> | undefined {
    if (this.state === "closed") return;
    this.lastReceived = this.host.now();
    const bytes = toBytes(raw);
    if (bytes === "text") return this.reject("text", CLOSE_UNSUPPORTED, "text frames are not accepted"), undefined;
    if (!bytes || bytes.length === 0) return this.reject("malformed", CLOSE_PROTOCOL, "empty or unreadable frame"), undefined;
    if (bytes.length > this.host.maxFrameBytes + 1) {
      return this.reject("oversized", CLOSE_TOO_BIG, `frame of ${bytes.length} bytes exceeds ${this.host.maxFrameBytes}`), undefined;
    }
    if (bytes[0] === FRAME_DATA) {
      if (this.state !== "open") return this.reject("unauthenticated", CLOSE_POLICY, "data before the handshake"), undefined;
      this.host.data(this, bytes.subarray(1));
      return;
    }
    if (bytes[0] !== FRAME_CONTROL) return this.reject("malformed", CLOSE_PROTOCOL, `unknown frame type ${bytes[0]}`), undefined;
    let msg: ControlMessage;
    try {
      msg = decodeControl(bytes);
    } catch (e) {
      return this.reject("malformed", CLOSE_PROTOCOL, isStreamBusError(e) ? e.message : "malformed control frame"), undefined;
    }
    if (msg.t === "ping") {
      if (this.state !== "open") this.reject("protocol", CLOSE_PROTOCOL, "ping before the handshake");
      return;
    }
    return this.handshake(msg).catch((e) => {
      this.reject("protocol", CLOSE_PROTOCOL, `handshake failed: ${(e as Error).message}`);
    });
  }

  private async handshake(msg: ControlMessage): Promise<void> {
    const key = this.host.secretKey;
    const self = this.host.selfId;
    if (this.role === "acceptor" && this.state === "hello" && msg.t === "hello") {
      if (msg.to !== self) return this.reject("wrong-node", CLOSE_POLICY, `this is node ${self}, not node ${msg.to}`);
      if (msg.from === self) return this.reject("protocol", CLOSE_POLICY, `a link from node ${self} to itself`);
      if (!key && !isLoopback(this.remoteAddress)) {
        return this.reject("unauthenticated", CLOSE_POLICY, "links from non-loopback addresses need a cluster secret");
      }
      this.peerId = msg.from;
      const wrongCluster = this.clusterConflict(msg.cluster);
      if (wrongCluster) return this.reject("wrong-cluster", CLOSE_POLICY, wrongCluster);
      this.peerCluster = msg.cluster;
      this.dialerNonce = msg.nonce;
      this.acceptorNonce = randomNonce();
      const mac = key ? await signHandshake(key, "acceptor", msg.from, self, msg.nonce, this.acceptorNonce) : undefined;
      this.state = "auth";
      this.sendControl({ t: "challenge", nonce: this.acceptorNonce, ...(mac && { mac }), ...this.ownCluster() });
      return;
    }
    if (this.role === "acceptor" && this.state === "auth" && msg.t === "auth") {
      if (key && !(await verifyHandshake(key, msg.mac, "dialer", this.peerId!, self, this.dialerNonce!, this.acceptorNonce!))) {
        return this.reject("unauthenticated", CLOSE_POLICY, `node ${this.peerId} did not prove the cluster secret`);
      }
      if (this.state !== "auth") return;
      // "ready" goes out before any queued data the host flushes on linkReady.
      this.sendControl({ t: "ready" });
      this.becomeOpen();
      return;
    }
    if (this.role === "dialer" && this.state === "challenge" && msg.t === "challenge" && this.dialerNonce) {
      const wrongCluster = this.clusterConflict(msg.cluster);
      if (wrongCluster) return this.reject("wrong-cluster", CLOSE_POLICY, wrongCluster);
      this.peerCluster = msg.cluster;
      this.acceptorNonce = msg.nonce;
      let mac: Uint8Array | undefined;
      if (key) {
        if (!(await verifyHandshake(key, msg.mac, "acceptor", self, this.peerId!, this.dialerNonce, msg.nonce))) {
          return this.reject("unauthenticated", CLOSE_POLICY, `node ${this.peerId} did not prove the cluster secret`);
        }
        mac = await signHandshake(key, "dialer", self, this.peerId!, this.dialerNonce, msg.nonce);
      }
      if (this.state !== "challenge") return;
      this.state = "ready";
      this.sendControl(mac ? { t: "auth", mac } : { t: "auth" });
      return;
    }
    if (this.role === "dialer" && this.state === "ready" && msg.t === "ready") {
      this.becomeOpen();
      return;
    }
    this.reject("protocol", CLOSE_PROTOCOL, `unexpected ${msg.t} during ${this.state}`);
  }

  private becomeOpen(): void {
    if (this.state === "closed") return;
    // Learned only now that the peer proved the secret (when there is one); checked again, as another
    // link may have taught this node a different id meanwhile.
    if (this.peerCluster !== undefined) this.host.learnClusterId(this.peerCluster);
    const wrongCluster = this.clusterConflict(this.peerCluster);
    if (wrongCluster) return this.reject("wrong-cluster", CLOSE_POLICY, wrongCluster);
    this.state = "open";
    this.lastReceived = this.host.now();
    this.host.clearTimer(this.timer);
    const refusal = this.host.linkReady(this);
    if (refusal) this.close(CLOSE_POLICY, refusal);
  }

  /** This node's cluster id as a handshake field (none while unknown). */
  private ownCluster(): { cluster?: string } {
    const id = this.host.clusterId();
    return id === undefined ? {} : { cluster: id };
  }

  /** Why a peer naming cluster `theirs` cannot link here; undefined when either side has no id yet. */
  private clusterConflict(theirs: string | undefined): string | undefined {
    const ours = this.host.clusterId();
    if (clustersAgree(ours, theirs)) return undefined;
    return `node ${this.peerId} belongs to cluster ${theirs}, but this node (${this.host.selfId}) to cluster ${ours} ` +
      "(a node added to a running cluster must start with join; founding members need the same peers and token)";
  }

  private sendControl(msg: ControlMessage): void {
    try {
      this.socket.send(encodeControl(msg));
    } catch {
      this.close(1011, "send failed");
    }
  }
}

function isBlob(x: unknown): x is Blob {
  return typeof Blob !== "undefined" && x instanceof Blob;
}

/** Normalizes what runtimes deliver (ArrayBuffer, views, Node Buffer fragments) to bytes. */
function toBytes(raw: unknown): Uint8Array | "text" | undefined {
  if (raw instanceof Uint8Array) return raw;
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
  if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (typeof raw === "string") return "text";
  if (Array.isArray(raw) && raw.every((p) => p instanceof Uint8Array)) {
    const total = raw.reduce((n, p: Uint8Array) => n + p.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of raw as Uint8Array[]) out.set(p, off), (off += p.length);
    return out;
  }
  // SharedArrayBuffer or anything else a runtime might hand over.
  if (raw && typeof raw === "object" && "byteLength" in raw) return new Uint8Array(raw as ArrayBufferLike);
  return undefined;
}
