// A server that does no work: it answers every POST with a small JSON body and 201, as POST /v1/brokers does.
// bench:etcd drives it with the same load generator to show the generator's own ceiling on this machine
// (whatever a real system does per request comes on top). Bun only:
//   bun scripts/bench/noop-server.ts PORT
const port = Number(process.argv[2] ?? 19399);
Bun.serve({
  port,
  hostname: "127.0.0.1",
  async fetch(req) {
    await req.arrayBuffer();
    return Response.json({ id: 1, host: "127.0.0.1", port: 1, status: "ALIVE", epoch: 1 }, { status: 201 });
  },
});
console.log("ready");
