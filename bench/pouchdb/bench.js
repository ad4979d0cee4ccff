#!/usr/bin/env node
// The PouchDB side of Liaison's sync benchmarks (shared/design/performance.md, B8, B9, B16).
//
//   node bench.js --docs DOCS.ndjson --out RESULT.json [--b9-rounds 5] [--b8-runs 1]
//
// DOCS.ndjson holds one PouchDB document per line: the same generated data the Rust bench
// (tests/examples/sync_bench.rs) seeds into liaison-server: contacts (the first lines, which B9
// edits), and for the full dataset the cases and messages too, one document each. With
// `--b9-rounds 0` only B8 runs. This script
//
//   1. starts pouchdb-server 4.2 (express-pouchdb, LevelDOWN on disk) on a free loopback port, as
//      its own process, and bulk-loads the documents into a database over HTTP (`_bulk_docs`,
//      1,000 per request);
//   2. starts a client process (this script with `client`): pouchdb-node 9.0 on LevelDOWN on
//      disk, talking to the server through a byte-counting TCP proxy in the same process;
//   3. B8: `PouchDB.replicate(remote, local)` into an empty local database (default options:
//      batch_size 100, batches_limit 10), timed, with the bytes on the wire both ways and the
//      client process's peak RSS; `--b8-runs N` times, each in a new client process with a new
//      local database, the run with the median time standing for B8;
//   4. B9 (on the last B8 client), after one untimed two-way sync that sets the push
//      checkpoint (the first push after a pull-only replication walks the whole local changes
//      feed), per round r: 50 documents edited locally and 50 other documents edited "by another
//      device" (straight on the server, not through the proxy), then one two-way
//      `PouchDB.sync(local, remote)`, timed. Round r edits documents r*100 + 2k (locally) and
//      r*100 + 2k + 1 (remotely), k < 50, setting `notes`: the Rust bench edits the same ones.
//
// Everything runs on loopback; nothing is fetched from the network.

'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, timeoutMs) {
  const start = Date.now();
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch (_) {
      // not up yet
    }
    if (Date.now() - start > timeoutMs) throw new Error(`pouchdb-server did not answer at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readDocs(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/// A TCP proxy that counts bytes in both directions.
function countingProxy(targetPort) {
  const bytes = { up: 0, down: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.on('data', (d) => {
      bytes.up += d.length;
    });
    upstream.on('data', (d) => {
      bytes.down += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, bytes }));
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)];
}

/// The client process: B8 then B9, printing one JSON line.
async function client() {
  const PouchDB = require('pouchdb-node');
  const serverPort = Number(arg('--server-port'));
  const dbName = arg('--db');
  const dir = arg('--dir');
  const ids = JSON.parse(fs.readFileSync(arg('--ids'), 'utf8'));
  const rounds = Number(arg('--b9-rounds', '5'));
  const proxy = await countingProxy(serverPort);
  const remote = new PouchDB(`http://127.0.0.1:${proxy.port}/${dbName}`);
  const direct = new PouchDB(`http://127.0.0.1:${serverPort}/${dbName}`);
  const local = new PouchDB(path.join(dir, 'local'));

  // B8: initial replication into an empty local database.
  proxy.bytes.up = 0;
  proxy.bytes.down = 0;
  let t = process.hrtime.bigint();
  const rep = await PouchDB.replicate(remote, local);
  const b8Seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const b8 = {
    seconds: b8Seconds,
    docs_written: rep.docs_written,
    docs_per_s: rep.docs_written / b8Seconds,
    bytes_up: proxy.bytes.up,
    bytes_down: proxy.bytes.down,
    client_peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    client_cpu_seconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  };
  const localInfo = await local.info();
  b8.local_doc_count = localInfo.doc_count;
  if (arg('--b8-only') === '1') {
    await local.close();
    proxy.server.close();
    process.stdout.write(JSON.stringify({ b8 }) + '\n');
    return;
  }

  // One two-way sync with nothing to do, untimed in the rounds: the first push after a pull-only
  // replication walks the whole local changes feed once to set its checkpoint.
  proxy.bytes.up = 0;
  proxy.bytes.down = 0;
  t = process.hrtime.bigint();
  await PouchDB.sync(local, remote);
  const warmup = { ms: Number(process.hrtime.bigint() - t) / 1e6, bytes: proxy.bytes.up + proxy.bytes.down };

  // B9: 50 local edits and 50 remote edits, then one two-way sync.
  const b9 = [];
  for (let r = 0; r < rounds && (r + 1) * 100 <= ids.length; r++) {
    for (let k = 0; k < 50; k++) {
      const mine = await local.get(ids[r * 100 + 2 * k]);
      mine.notes = `B9 round ${r}: edited on this device`;
      await local.put(mine);
      const theirs = await direct.get(ids[r * 100 + 2 * k + 1]);
      theirs.notes = `B9 round ${r}: edited on another device`;
      await direct.put(theirs);
    }
    proxy.bytes.up = 0;
    proxy.bytes.down = 0;
    t = process.hrtime.bigint();
    const result = await PouchDB.sync(local, remote);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    b9.push({ ms, pushed: result.push.docs_written, pulled: result.pull.docs_written, bytes: proxy.bytes.up + proxy.bytes.down });
  }
  await local.close();
  proxy.server.close();
  process.stdout.write(JSON.stringify({ b8, b9, warmup }) + '\n');
}

async function main() {
  if (process.argv[2] === 'client') return client();
  const docsFile = arg('--docs');
  const out = arg('--out');
  const rounds = arg('--b9-rounds', '5');
  const b8Runs = Math.max(1, Number(arg('--b8-runs', '1')));
  if (!docsFile || !out) throw new Error('usage: node bench.js --docs DOCS.ndjson --out RESULT.json [--b9-rounds N]');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liaison-pouchdb-'));
  const serverDir = path.join(tmp, 'server');
  fs.mkdirSync(serverDir);
  let server;
  try {
    const port = await freePort();
    const bin = require.resolve('pouchdb-server/bin/pouchdb-server');
    // cwd: pouchdb-server writes its config.json and log.txt there.
    server = spawn(process.execPath, [bin, '--port', String(port), '--host', '127.0.0.1', '--dir', serverDir, '--no-stdout-logs', '--no-color'], {
      cwd: serverDir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForHttp(`http://127.0.0.1:${port}/`, 30000);

    const PouchDB = require('pouchdb-node');
    const docs = readDocs(docsFile);
    const dbName = 'liaison';
    const db = new PouchDB(`http://127.0.0.1:${port}/${dbName}`);
    let t = process.hrtime.bigint();
    for (let i = 0; i < docs.length; i += 1000) {
      const res = await db.bulkDocs(docs.slice(i, i + 1000));
      const failed = res.filter((r) => r.error);
      if (failed.length) throw new Error(`bulk load refused ${failed.length} documents: ${JSON.stringify(failed[0])}`);
    }
    const loadSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const info = await db.info();
    if (info.doc_count !== docs.length) throw new Error(`the server holds ${info.doc_count} documents, expected ${docs.length}`);
    const docBytes = docs.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d)), 0);
    const idsFile = path.join(tmp, 'ids.json');
    fs.writeFileSync(idsFile, JSON.stringify(docs.map((d) => d._id)));

    // The client in its own process (a fresh one, with an empty local database, per B8 run), so
    // its peak RSS is its own. The last run goes on with B9.
    const runClient = async (n, b8Only) => {
      const clientDir = path.join(tmp, `client-${n}`);
      fs.mkdirSync(clientDir);
      const args = [__filename, 'client', '--server-port', String(port), '--db', dbName, '--dir', clientDir, '--ids', idsFile, '--b9-rounds', rounds];
      const child = spawn(process.execPath, b8Only ? [...args, '--b8-only', '1'] : args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      const code = await new Promise((resolve) => child.on('close', resolve));
      if (code !== 0) throw new Error(`the PouchDB client process failed (exit ${code})`);
      fs.rmSync(clientDir, { recursive: true, force: true });
      return JSON.parse(stdout.trim().split('\n').pop());
    };
    const runs = [];
    for (let n = 1; n < b8Runs; n++) runs.push((await runClient(n, true)).b8);
    const withB9 = Number(rounds) > 0;
    const result = await runClient(b8Runs, !withB9);
    runs.push(result.b8);
    // The run with the median time stands for B8.
    const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
    result.b8 = { ...sorted[Math.floor((sorted.length - 1) / 2)], runs_seconds: runs.map((r) => r.seconds) };
    const summary = {
      server: 'pouchdb-server 4.2.0 (express-pouchdb 4.2.0), own process, loopback HTTP (gzip as negotiated)',
      client: 'pouchdb-node 9.0.0, own process (with the byte-counting proxy)',
      adapter: 'leveldb (LevelDOWN on disk) on both sides',
      node: process.version,
      docs: docs.length,
      doc_json_bytes_avg: docBytes / docs.length,
      load_seconds: loadSeconds,
      b8: { ...result.b8, bytes_per_doc: (result.b8.bytes_up + result.b8.bytes_down) / docs.length },
      b9: withB9
        ? { warmup: result.warmup, rounds: result.b9, median_ms: median(result.b9.map((r) => r.ms)), median_bytes: median(result.b9.map((r) => r.bytes)) }
        : null,
    };
    fs.writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
    console.log(
      `PouchDB: loaded ${docs.length} docs in ${loadSeconds.toFixed(1)} s; B8 replicate ${result.b8.seconds.toFixed(2)} s ` +
        `(${Math.round(result.b8.docs_per_s)} docs/s, ${(summary.b8.bytes_per_doc / 1024).toFixed(2)} KiB/doc, ` +
        `peak RSS ${Math.round(result.b8.client_peak_rss_mb)} MB)` + (withB9 ? `; B9 median ${summary.b9.median_ms.toFixed(1)} ms` : ''),
    );
  } finally {
    if (server) server.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`pouchdb bench: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
