import { webSocketTransport } from "../../runtimes/bun/websocket-transport.ts";
import { runTransportConformance } from "../../src/testing/conformance/transport.ts";
import { freePort } from "../helpers/net.ts";

runTransportConformance("websocket (bun, no secret)", async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  return {
    a: { transport: webSocketTransport(), peer: { id: 1, addr: `127.0.0.1:${pa}` } },
    b: { transport: webSocketTransport(), peer: { id: 2, addr: `127.0.0.1:${pb}` } },
  };
});

// The higher id sends first here, so the accepting side's queue and the reverse direction are exercised too.
runTransportConformance("websocket (bun, cluster secret)", async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  return {
    a: { transport: webSocketTransport({ clusterSecret: "s3cret" }), peer: { id: 7, addr: `127.0.0.1:${pa}` } },
    b: { transport: webSocketTransport({ clusterSecret: "s3cret" }), peer: { id: 3, addr: `127.0.0.1:${pb}` } },
  };
}, { largeFrameBytes: 4 << 20 });
