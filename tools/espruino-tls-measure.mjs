#!/usr/bin/env node
// What MQTT over TLS costs a station, measured on Espruino's Linux build (the same interpreter as
// the ESP32's, with mbedTLS): the variables a connected socket holds, plain TCP against TLS with a
// pinned CA, and the CA certificate kept in memory as the station keeps it (its configuration's
// broker.tls.ca, held by the MQTT client for reconnects); and the handshake's time on this machine.
// Variables are JsVars (process.memory().usage); mbedTLS's own buffers are C heap, which
// process.memory() does not count (see the README's note on the ESP32).
//
//   node tools/espruino-tls-measure.mjs --espruino /path/to/espruino/bin/espruino
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

const binary = process.argv[process.argv.indexOf('--espruino') + 1];
if (!binary || !fs.existsSync(binary)) throw new Error('usage: node tools/espruino-tls-measure.mjs --espruino /path/to/espruino');

// A throwaway CA and a broker certificate for 127.0.0.1 (RSA 2048, as a school's would likely be).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-tls-measure-'));
const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Handover measure CA');
run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1');
fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
run('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '2', '-extfile', 'san.ext');
const ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');

// Servers that accept a connection and keep it open, saying nothing.
const held = [];
const plain = net.createServer((socket) => held.push(socket));
const secure = tls.createServer({ key: fs.readFileSync(path.join(dir, 'broker.key')), cert: fs.readFileSync(path.join(dir, 'broker.pem')) }, (socket) => held.push(socket));
await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve));
await new Promise((resolve) => secure.listen(0, '127.0.0.1', resolve));

/** One interpreter run: `body` runs after the CA text is loaded; it prints `RESULT <json>` and quits. */
function espruino(body) {
  const script = `
var CA_JSON = ${JSON.stringify(JSON.stringify(ca))};
var base = process.memory().usage;
${body}
`;
  const file = path.join(dir, 'measure.js');
  fs.writeFileSync(file, script);
  // The interpreter is synchronous in its own loop: run it in a child with the servers in this process.
  return new Promise((resolve, reject) => {
    const child = execFileAsync(binary, [file]);
    child.then((out) => {
      const found = /RESULT (\{.*\})/.exec(out);
      if (!found) reject(new Error(`no result from espruino:\n${out}`));
      else resolve(JSON.parse(found[1]));
    }, reject);
  });
}

function execFileAsync(file, args) {
  return new Promise((resolve, reject) => {
    import('node:child_process').then(({ execFile }) => {
      const child = execFile(file, args, { timeout: 30_000, encoding: 'utf8' }, (error, stdout) => (/RESULT \{/.test(stdout) ? resolve(stdout) : reject(new Error(`espruino: ${stdout.slice(-800)}`))));
      child.stdin?.end();
    });
  });
}

const connect = (kind) => `
var t0 = getTime();
var socket = ${kind === 'tls' ? `require('tls').connect({ host: '127.0.0.1', port: ${secure.address().port}, ca: atob(JSON.parse(CA_JSON).replace(/-----[^-]+-----|\\s/g, '')) }` : `require('net').connect({ host: '127.0.0.1', port: ${plain.address().port} }`}, function () {
  var ms = Math.round((getTime() - t0) * 1000);
  setTimeout(function () {
    console.log('RESULT ' + JSON.stringify({ connected: process.memory().usage - base, ms: ms }));
    socket.end();
    setTimeout(function () { process.exit ? process.exit(0) : quit(); }, 50);
  }, 300);
});
socket.on('error', function (e) { console.log('RESULT ' + JSON.stringify({ error: String(e) })); });
`;

const rows = [];
for (const kind of ['plain', 'tls']) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await espruino(connect(kind)));
  rows.push({ kind, runs });
}
const caKept = await espruino(`var kept = JSON.parse(CA_JSON); console.log('RESULT ' + JSON.stringify({ caVariables: process.memory().usage - base, caBytes: kept.length })); setTimeout(function () { process.exit ? process.exit(0) : quit(); }, 10);`);
const version = /2v\d+/.exec(spawnSync(binary, ['-e', 'quit();'], { encoding: 'utf8', timeout: 10_000 }).stdout)?.[0] ?? 'unknown';
console.log(JSON.stringify({ espruino: version, rows, caKept }));
for (const socket of held) socket.destroy();
plain.close();
secure.close();
fs.rmSync(dir, { recursive: true, force: true });
