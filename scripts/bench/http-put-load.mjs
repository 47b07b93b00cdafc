// Closed-loop HTTP write load: N concurrent workers, each POSTs and waits for the reply.
// Usage: node scripts/bench/http-put-load.mjs etcd|streambus TARGET_URL CONCURRENCY SECONDS
// etcd: TARGET_URL is an etcd v3 JSON gateway put (http://127.0.0.1:2379/v3/kv/put), 100-byte values.
// streambus: TARGET_URL is a node's POST /v1/brokers; each write re-registers one of 10,000 brokers
// with a new port and a 100-byte tag, so both systems commit one small replicated write per request.
// A copy of ../shared/bench/http-put-load.mjs (same logic, so figures compare), kept here because the
// shared folder is not in every checkout. Prints one JSON line; loader_cpu_us (this process's CPU per ok
// request) is the one addition, so a reader can tell when the load generator, not the system, is the limit.
import http from 'node:http';
const [mode, target, conc = '64', secs = '10'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const u = new URL(target);
const lat = []; let ok = 0, bad = 0, seq = 0;
const end = Date.now() + Number(secs) * 1000;
function post(body) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume(); r.on('end', () => { lat.push(Number(process.hrtime.bigint() - t0) / 1e6); (r.statusCode < 300 ? ok++ : bad++); res(); });
    });
    req.on('error', () => { bad++; res(); });
    req.end(body);
  });
}
async function worker() {
  while (Date.now() < end) {
    const n = seq++, k = `k${n % 10000}`, v = 'x'.repeat(100);
    const body = mode === 'etcd'
      ? JSON.stringify({ key: Buffer.from(k).toString('base64'), value: Buffer.from(v).toString('base64') })
      : JSON.stringify({ id: 1000 + (n % 10000), host: '127.0.0.1', port: 1024 + (n % 60000), tags: { v } });
    await post(body);
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(conc) }, worker));
const dt = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]?.toFixed(2);
const cpu = process.cpuUsage();
console.log(JSON.stringify({ mode, conc: Number(conc), ok, bad, ops_per_s: Math.round(ok / dt), p50_ms: p(0.5), p99_ms: p(0.99),
  loader_cpu_us: ok ? Math.round((cpu.user + cpu.system) / ok) : undefined }));
process.exit(0);
