// Helpers shared by the tests in this folder: running the hubmirror binary (to the end, or killed
// at a chosen point), `hubmirror serve` on a data dir, and small file and URL helpers. Plain Node 20.
//
// Every hubmirror started here is tracked, so that a test's `after` hook (killChildren) and an
// abrupt exit of the test process leave none running.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, mkdtemp, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

/** @type {Set<import("node:child_process").ChildProcess>} */
const children = new Set();

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

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
 * `hubmirror serve` on a data dir, `args` added (e.g. ["--config", file]); resolves with its URL,
 * its state, its stderr (the last `keepStderr` characters) and a stop function.
 */
export async function serveHubmirror(bin, dataDir, { args = [], keepStderr = 4000 } = {}) {
	const child = spawnHubmirror(bin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", ...args]);
	let stderr = "";
	child.stderr.setEncoding("utf8").on("data", (s) => (stderr = (stderr + s).slice(-keepStderr)));
	const lines = createInterface({ input: child.stdout });
	const line = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`hubmirror serve printed no address in 15 s; stderr: ${stderr}`)), 15_000);
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
	const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
	assert.ok(m, `unexpected first line from hubmirror serve: ${JSON.stringify(line)}`);
	return {
		url: m[1],
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

/** SIGKILLs every hubmirror started here that is still running. */
export function killChildren() {
	for (const child of children) {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	}
	children.clear();
}

// If the test process dies abruptly, leave no hubmirror behind.
process.on("exit", killChildren);

/**
 * Each line a run printed, as test diagnostics: a failing test shows what the binary said. Hooks
 * have no diagnostics: nothing is shown then.
 */
export function diagnoseOutput(t, run) {
	if (typeof t?.diagnostic !== "function") return;
	for (const l of run.stdout.trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  stdout: ${l}`);
	for (const l of run.stderr.trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  stderr: ${l}`);
}

// ---------------------------------------------------------------------------------------------
// Files and URLs
// ---------------------------------------------------------------------------------------------

/** A repo path for a URL: each segment percent-encoded, the slashes kept. */
export function encodePath(path) {
	return path.split("/").map(encodeURIComponent).join("/");
}

/** Paths of the files under `root` (directories walked, not listed), sorted; none if `root` does not exist. */
export async function filesUnder(root) {
	const out = [];
	async function walk(dir) {
		let entries;
		try {
			entries = await readdir(dir, { withFileTypes: true });
		} catch (err) {
			if (err.code === "ENOENT") return;
			throw err;
		}
		for (const e of entries) {
			const abs = join(dir, e.name);
			if (e.isDirectory()) await walk(abs);
			else out.push(abs);
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

/**
 * A suite's start: checks that `bin` (HUBMIRROR_BIN) is an executable file, then makes a fresh
 * work directory named after `prefix` and returns it.
 */
export async function makeWorkRoot(bin, prefix) {
	if (!bin) throw new Error("HUBMIRROR_BIN is not set: point it at the hubmirror binary to test");
	await access(bin, fsConstants.X_OK);
	if (!(await stat(bin)).isFile()) throw new Error(`HUBMIRROR_BIN=${bin} is not a file`);
	return mkdtemp(join(tmpdir(), prefix));
}
