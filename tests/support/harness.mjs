// Helpers shared by every Node test suite (tests/e2e, tests/fault_upstream, tests/integrity,
// tests/bundle): digests and deterministic content, running the hubmirror binary (to the end, or
// killed at a chosen point), `hubmirror serve` on a data dir, a suite's temporary directory, and
// small file and HTTP helpers, and the users and tokens of an instance. Plain Node 20, no npm
// packages.
//
// Every hubmirror started here is tracked, so that a suite's `after` hook (killChildren) and an
// abrupt exit of the test process leave none running.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";
import { constants as fsConstants, createReadStream } from "node:fs";
import { access, chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before } from "node:test";

/** The binary under test. */
export const BIN = process.env.HUBMIRROR_BIN;

// ---------------------------------------------------------------------------------------------
// Digests and content
// ---------------------------------------------------------------------------------------------

export function sha256Hex(buf) {
	return createHash("sha256").update(buf).digest("hex");
}

/** git's blob id: sha1("blob <len>\0" + bytes). */
export function gitBlobSha1(buf) {
	return createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
}

/** The git-lfs pointer text (LF endings, final LF; hub-protocol.md §6). */
export function lfsPointer(sha256, size) {
	return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/**
 * Deterministic pseudo-random bytes as a stream: each call `next(n)` returns the following `n`
 * bytes of the AES-128-CTR keystream of a fixed key, IV derived from `seed`.
 */
export function pseudoRandomStream(seed) {
	const iv = createHash("sha256").update(String(seed)).digest().subarray(0, 16);
	const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x3c), iv);
	return (n) => cipher.update(Buffer.alloc(n));
}

/** The first `size` bytes of pseudoRandomStream(seed). */
export function pseudoRandomBytes(seed, size) {
	return pseudoRandomStream(seed)(size);
}

/** The sha256 of a file, streamed. */
export async function sha256OfFile(path) {
	const hash = createHash("sha256");
	for await (const chunk of createReadStream(path)) hash.update(chunk);
	return hash.digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/** @type {Set<import("node:child_process").ChildProcess>} */
const children = new Set();

/** A tracked hubmirror child: stdout and stderr piped, `env` on top of this process's environment. */
export function spawnHubmirror(bin, args, env = {}) {
	const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
	children.add(child);
	// Node emits "close" after "error" too (a binary that cannot start), so nothing stays tracked.
	child.once("close", () => children.delete(child));
	return child;
}

/**
 * Runs hubmirror to the end with its output captured; SIGKILLed after `timeoutMs` (`timedOut`).
 * `kill` ({ output, ms }, both optional) SIGKILLs it earlier: as soon as its output so far
 * satisfies `kill.output`, or `kill.ms` after the spawn, whichever comes first (`killedAtMs`).
 */
export function runHubmirror(bin, args, { env = {}, timeoutMs = 30_000, kill = null } = {}) {
	return new Promise((resolve, reject) => {
		const startedAt = Date.now();
		const child = spawnHubmirror(bin, args, env);
		let stdout = "";
		let stderr = "";
		let killedAtMs = null;
		let timedOut = false;
		const killNow = () => {
			if (killedAtMs === null && child.exitCode === null && child.signalCode === null) {
				killedAtMs = Date.now() - startedAt;
				child.kill("SIGKILL");
			}
		};
		const onOutput = () => {
			if (kill?.output && kill.output(stdout + stderr)) killNow();
		};
		child.stdout.setEncoding("utf8").on("data", (s) => {
			stdout += s;
			onOutput();
		});
		child.stderr.setEncoding("utf8").on("data", (s) => {
			stderr += s;
			onOutput();
		});
		const killTimer = kill?.ms !== undefined ? setTimeout(killNow, kill.ms) : null;
		const guard = setTimeout(() => {
			timedOut = true;
			child.kill("SIGKILL");
		}, timeoutMs);
		child.once("error", (err) => {
			clearTimeout(killTimer);
			clearTimeout(guard);
			reject(err);
		});
		child.once("close", (code, signal) => {
			clearTimeout(killTimer);
			clearTimeout(guard);
			resolve({ args, code, signal, stdout, stderr, timedOut, killedAtMs, ms: Date.now() - startedAt });
		});
	});
}

/**
 * Each line a run printed, as test diagnostics: a failing test shows what the binary said. Hooks
 * have no diagnostics: nothing is shown then.
 */
export function diagnoseOutput(t, run) {
	if (typeof t?.diagnostic !== "function") return;
	for (const l of run.stdout.trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  stdout: ${l}`);
	for (const l of run.stderr.trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  stderr: ${l}`);
}

/** Runs BIN to the end, shows its output as diagnostics of `t`, and checks that it finished in time. */
export async function runLogged(t, args, options) {
	const run = await runHubmirror(BIN, args, options);
	diagnoseOutput(t, run);
	assert.equal(run.timedOut, false, `hubmirror ${args.join(" ")} timed out`);
	return run;
}

/**
 * `hubmirror serve` on a data dir, `args` added (e.g. ["--config", file]); resolves with its URL,
 * its state, its stderr (the last `keepStderr` characters) and a stop function.
 */
export async function serveHubmirror(bin, dataDir, { args = [], keepStderr = 4000 } = {}) {
	const child = spawnHubmirror(bin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", ...args]);
	let stderr = "";
	child.stderr.setEncoding("utf8").on("data", (s) => (stderr = (stderr + s).slice(-keepStderr)));
	const lines = createInterface({ input: child.stdout });
	const line = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`hubmirror serve printed no address in 20 s; stderr: ${stderr}`)), 20_000);
		lines.once("line", (l) => {
			clearTimeout(timer);
			resolve(l);
		});
		child.once("exit", (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`hubmirror serve exited (code ${code}, signal ${signal}); stderr: ${stderr}`));
		});
	});
	// Keep draining stdout so the server can never block on a full pipe.
	lines.on("line", () => {});
	const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
	assert.ok(m, `unexpected first line from hubmirror serve: ${JSON.stringify(line)}`);
	assert.ok(Number(m[2]) > 0 && Number(m[2]) < 65536, `bad port in ${JSON.stringify(line)}`);
	return {
		url: m[1],
		pid: child.pid,
		alive: () => child.exitCode === null && child.signalCode === null,
		stderr: () => stderr,
		async stop() {
			if (child.exitCode === null && child.signalCode === null) {
				const exited = once(child, "exit");
				child.kill("SIGTERM");
				const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
				await exited;
				clearTimeout(timer);
			}
		},
	};
}

/** Serves each data dir of `dirs` with BIN, calls `fn` with the servers, then stops them. */
export async function withServers(dirs, fn) {
	const servers = [];
	try {
		for (const d of dirs) servers.push(await serveHubmirror(BIN, d));
		return await fn(...servers);
	} finally {
		for (const s of servers) await s.stop();
	}
}

/** SIGKILLs every hubmirror started here that is still running. */
export function killChildren() {
	for (const child of children) {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	}
	children.clear();
}

// If the test process dies abruptly, leave no hubmirror behind.
process.on("exit", killChildren);

/** `hubmirror import` of `srcDir` as `repo`, which must succeed; the commit id it printed. */
export async function importRepo(t, dataDir, srcDir, repo, type = "model") {
	const run = await runLogged(t, ["import", "--data", dataDir, "--repo", repo, "--type", type, srcDir], { timeoutMs: 60_000 });
	assert.equal(run.code, 0, `hubmirror import ${repo} failed (exit ${run.code}): ${run.stderr}`);
	const m = /as commit ([0-9a-f]{40})$/m.exec(run.stdout);
	assert.ok(m, `no commit id in: ${run.stdout}`);
	return m[1];
}

// ---------------------------------------------------------------------------------------------
// A suite's temporary directory
// ---------------------------------------------------------------------------------------------

/** Checks that `bin` (HUBMIRROR_BIN) names an executable file. */
export async function checkBinary(bin) {
	if (!bin) throw new Error("HUBMIRROR_BIN is not set: point it at the hubmirror binary to test");
	await access(bin, fsConstants.X_OK);
	if (!(await stat(bin)).isFile()) throw new Error(`HUBMIRROR_BIN=${bin} is not a file`);
}

/** A temporary directory for one test file, with numbered subdirectories that never collide. */
export class WorkRoot {
	/** @type {string | undefined} */
	path = undefined;
	#count = 0;

	async create(prefix) {
		await checkBinary(BIN);
		this.path = await mkdtemp(join(tmpdir(), prefix));
	}

	/** A new path under the root named after `label` (not created). */
	dir(label) {
		return join(this.path, `${String(++this.#count).padStart(2, "0")}-${label}`);
	}

	/** A copy of the directory `src` (no process may have it open) at a new path. */
	async copy(src, label) {
		const dir = this.dir(label);
		await cp(src, dir, { recursive: true });
		return dir;
	}

	async remove() {
		if (this.path) await rm(this.path, { recursive: true, force: true });
	}
}

/**
 * The WorkRoot of a test file, made by a `before` hook once BIN is checked, then `setup(work, t)`
 * (within `timeout` ms, if given); an `after` hook runs `teardown()`, kills every hubmirror still
 * running and removes the root. The file's own set-up belongs in these hooks: Node 20 runs a
 * file's top-level hooks concurrently, not one after the other.
 */
export function useWorkRoot(prefix, { setup, teardown, timeout } = {}) {
	const work = new WorkRoot();
	before(
		async (t) => {
			await work.create(prefix);
			await setup?.(work, t);
		},
		timeout === undefined ? {} : { timeout },
	);
	after(async () => {
		await teardown?.();
		killChildren();
		await work.remove();
	});
	return work;
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** A repo path for a URL: each segment percent-encoded, the slashes kept. */
export function encodePath(path) {
	return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Paths of the regular files under `root` (directories walked, symlinks followed), sorted; none if
 * `root` does not exist. Anything else (a socket, a dangling link) is an error.
 */
export async function filesUnder(root) {
	const out = [];
	async function walk(dir) {
		let entries;
		try {
			entries = await readdir(dir);
		} catch (err) {
			if (err.code === "ENOENT" && dir === root) return;
			throw err;
		}
		for (const name of entries) {
			const abs = join(dir, name);
			const st = await stat(abs);
			if (st.isDirectory()) await walk(abs);
			else if (st.isFile()) out.push(abs);
			else throw new Error(`not a regular file: ${abs}`);
		}
	}
	await walk(root);
	return out.sort();
}

/** Where a hubmirror data dir keeps the blob with this SHA-256. */
export function blobPath(dataDir, sha256) {
	return join(dataDir, "blobs", "sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

/** Writes `entries` ([repo path, content] pairs) under `dir`, creating folders. */
export async function writeSource(dir, entries) {
	for (const [path, content] of entries) {
		const abs = join(dir, ...path.split("/"));
		await mkdir(dirname(abs), { recursive: true });
		await writeFile(abs, content);
	}
}

/** Stored blobs are read-only; the owner may still change them. Returns `path`. */
export async function makeWritable(path) {
	await chmod(path, 0o644);
	return path;
}

/** Inverts the byte at `offset` of a file (made writable first); returns the new bytes. */
export async function flipByte(path, offset) {
	const buf = await readFile(path);
	buf[offset] ^= 0xff;
	await writeFile(await makeWritable(path), buf);
	return buf;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** GET `url` with `headers`, which must answer 200; its JSON body. */
export async function getJson(url, headers = {}) {
	const res = await fetch(url, { headers });
	const text = await res.text();
	assert.equal(res.status, 200, `GET ${url}: ${res.status} ${text.slice(0, 300)}`);
	return JSON.parse(text);
}

/**
 * One GET over a fresh connection, read to the end, whatever happens: `complete` is false when
 * the connection closed before Content-Length bytes arrived.
 */
export function rawGet(url, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = http.get(url, { agent: false, headers }, (res) => {
			const chunks = [];
			let error = null;
			res.on("data", (c) => chunks.push(c));
			res.on("error", (err) => (error = err));
			res.on("close", () =>
				resolve({
					status: res.statusCode,
					headers: res.headers,
					body: Buffer.concat(chunks),
					complete: res.complete,
					error,
				}),
			);
		});
		req.on("error", reject);
		req.setTimeout(15_000, () => req.destroy(new Error(`GET ${url} timed out`)));
	});
}

// ---------------------------------------------------------------------------------------------
// Users and tokens of a hubmirror instance
// ---------------------------------------------------------------------------------------------

/** `hubmirror --data DATA_DIR ARGS...`, which must succeed; its run. */
async function runAccessCommand(bin, dataDir, args) {
	const run = await runHubmirror(bin, ["--data", dataDir, ...args]);
	assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run;
}

/**
 * Adds the user `user` to the instance on `dataDir` (a server-wide admin with `admin`), gives them
 * access to each repo of `grants` ("ORG/NAME" for a model, or { repo, type }), which must be there
 * already, and creates a read token of theirs: its secret, to send to that instance only.
 */
export async function createMirrorToken(bin, dataDir, user, { admin = false, grants = [] } = {}) {
	await runAccessCommand(bin, dataDir, ["user", "add", user, ...(admin ? ["--admin"] : [])]);
	for (const grant of grants) {
		const { repo, type = "model" } = typeof grant === "string" ? { repo: grant } : grant;
		await runAccessCommand(bin, dataDir, ["access", "grant", repo, "--type", type, "--user", user]);
	}
	const run = await runAccessCommand(bin, dataDir, ["token", "create", "--user", user]);
	const secret = run.stdout.trimEnd().split("\n").at(-1);
	assert.match(secret, /^hf_[A-Za-z0-9]+$/, `token create printed no secret on its last line: ${run.stdout}`);
	return secret;
}

/** The headers that present `token` to a server; none without a token. */
export function bearer(token) {
	return token ? { authorization: `Bearer ${token}` } : {};
}

/** An anonymous GET of `url`, gated content, must be refused as the Hub refuses it: 401 GatedRepo. */
export async function assertGatedAnonymously(url) {
	const res = await fetch(url);
	const body = await res.text();
	assert.equal(res.status, 401, `anonymous GET ${url}: ${res.status} ${body.slice(0, 300)}`);
	assert.equal(res.headers.get("x-error-code"), "GatedRepo", `anonymous GET ${url}: X-Error-Code`);
}
