/** The transport's metric families (bytes, frames, drops, reconnects, rejected frames, link changes). */
import type { Counter, MetricsRegistry } from "../metrics.ts";

export interface TransportCounters {
  bytesSent: Counter;
  bytesReceived: Counter;
  framesSent: Counter;
  framesReceived: Counter;
  dropped: Counter;
  reconnects: Counter;
  rejected: Counter;
  linkChanges: Counter;
}

/** Registers the families on `m`; `openLinks` is read at each scrape. */
export function transportCounters(m: MetricsRegistry, openLinks: () => number): TransportCounters {
  const links = m.gauge("streambus_transport_links_open", "Peer links currently open");
  m.collect(() => links.set(openLinks()));
  return {
    bytesSent: m.counter("streambus_transport_bytes_sent_total", "Payload bytes sent to peers"),
    bytesReceived: m.counter("streambus_transport_bytes_received_total", "Payload bytes received from peers"),
    framesSent: m.counter("streambus_transport_frames_sent_total", "Frames sent to peers"),
    framesReceived: m.counter("streambus_transport_frames_received_total", "Frames received from peers"),
    dropped: m.counter("streambus_transport_frames_dropped_total", "Frames dropped before sending, by reason"),
    reconnects: m.counter("streambus_transport_reconnects_total", "Reconnect attempts to peers"),
    rejected: m.counter("streambus_transport_rejected_frames_total", "Links closed for a bad frame or handshake, by reason"),
    linkChanges: m.counter("streambus_transport_link_changes_total", "Peer links established or lost"),
  };
}
