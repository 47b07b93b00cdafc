/**
 * The narrow slice of the Raft driver (`RaftNode`) the metadata layer uses. Anything with these methods
 * works: the real node, or a mock in unit tests.
 */
export interface ConsensusNode {
  /** This node's id (names its metadata client; RaftNode.id). */
  readonly id: number;
  /**
   * Replicates `data`; resolves once committed and applied on this node, with the state machine's result.
   * Rejects with StreamBusError NoLeader, NotLeader, Timeout or Unavailable.
   */
  propose(data: Uint8Array, opts?: { timeoutMs?: number; decoded?: unknown }): Promise<{ index: number; result: unknown }>;
  /** Resolves once this node has applied everything committed before the call (ReadIndex). */
  readBarrier(opts?: { timeoutMs?: number }): Promise<void>;
  isLeader(): boolean;
  leaderId(): number | undefined;
  onLeaderChange(listener: (leaderId: number | undefined) => void): () => void;
  /** Calls a handler registered with `handle` on the current leader (locally when this node leads). */
  callLeader(method: string, body: unknown): Promise<unknown>;
  handle(method: string, handler: (body: unknown) => Promise<unknown>): unknown;
}
