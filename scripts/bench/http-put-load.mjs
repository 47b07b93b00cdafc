// Closed-loop HTTP write load: N concurrent workers, each POSTs and waits for the reply.
// Usage: node scripts/bench/http-put-load.mjs etcd|streambus TARGET_URL CONCURRENCY SECONDS [raw|node-http]
// etcd: TARGET_URL is an etcd v3 JSON gateway put (http://127.0.0.1:2379/v3/kv/put), 100-byte values.
// streambus: TARGET_URL is a node's POST /v1/brokers; each write re-registers one of 10,000 brokers
// with a new port and a 100-byte tag, so both systems commit one small replicated write per request.
// The load is that of ../shared/bench/http-put-load.mjs (same workers and bodies, so figures compare),
// kept here because the shared folder is not in every checkout. Two HTTP clients:
// - `node-http` (the shared script's): node:http with a keep-alive agent, 65–95 µs of CPU per request here.
// - `raw` (default): one keep-alive socket per worker, the request written as one string and the reply read
//   by its status line and Content-Length (or chunks), as wrk does. About a fifth of the CPU, so the
//   generator, which shares the machine's cores with the system under test, takes less from it.
// Prints one JSON line; loader_cpu_us (this process's CPU per ok request) shows when the generator, not the
// system, is the limit.
import http from 'node:http';
import net from 'node:net';
const [mode, target, conc = '64', secs = '10', client = 'raw'] = process.argv.slice(2);
const u = new URL(target);
const lat = []; let ok = 0, bad = 0, seq = 0;
const end = Date.now() + Number(secs) * 1000;

function nextBody() {
  const n = seq++, k = `k${n % 10000}`, v = 'x'.repeat(100);
  return mode === 'etcd'
    ? JSON.stringify({ key: Buffer.from(k).toString('base64'), value: Buffer.from(v).toString('base64') })
    : JSON.stringify({ id: 1000 + (n % 10000), host: '127.0.0.1', port: 1024 + (n % 60000), tags: { v } });
}

function record(t0, status) {
  lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  status >= 200 && status < 300 ? ok++ : bad++;
}

// node:http, as in the shared script.
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
function postNodeHttp(body) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume(); r.on('end', () => { record(t0, r.statusCode); res(); });
    });
    req.on('error', () => { bad++; res(); });
    req.end(body);
  });
}
async function nodeHttpWorker() {
  while (Date.now() < end) await postNodeHttp(nextBody());
}

// One keep-alive connection: writes a request, parses exactly one response, repeats until `end`.
function rawWorker() {
  return new Promise((done) => {
    const head = `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: `;
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0), t0 = 0n, finished = false;
    const send = () => {
      if (Date.now() >= end) return finish();
      const body = nextBody();
      t0 = process.hrtime.bigint();
      sock.write(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    const finish = () => { if (!finished) { finished = true; sock.destroy(); done(); } };
    // A complete response at the start of buf: its [status, length in bytes], or undefined if more is needed.
    const parse = () => {
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) return undefined;
      const headers = buf.toString('latin1', 0, he);
      const status = Number(headers.slice(9, 12));
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
      if (cl) {
        const total = he + 4 + Number(cl[1]);
        return buf.length >= total ? [status, total] : undefined;
      }
      if (!/\r\ntransfer-encoding:\s*chunked/i.test(headers)) return [status, he + 4];
      let at = he + 4;
      for (;;) {
        const le = buf.indexOf('\r\n', at);
        if (le < 0) return undefined;
        const size = parseInt(buf.toString('latin1', at, le), 16);
        at = le + 2 + size + 2;
        if (at > buf.length) return undefined;
        if (size === 0) return [status, at];
      }
    };
    sock.on('connect', send);
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const r = parse();
      if (!r) return;
      buf = buf.subarray(r[1]);
      record(t0, r[0]);
      send();
    });
    sock.on('error', () => { bad++; finish(); });
    sock.on('close', finish);
  });
}

const worker = client === 'node-http' ? nodeHttpWorker : rawWorker;
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(conc) }, worker));
const dt = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]?.toFixed(2);
const cpu = process.cpuUsage();
console.log(JSON.stringify({ mode, conc: Number(conc), client, ok, bad, ops_per_s: Math.round(ok / dt), p50_ms: p(0.5), p99_ms: p(0.99),
  loader_cpu_us: ok ? Math.round((cpu.user + cpu.system) / ok) : undefined }));
process.exit(0);
