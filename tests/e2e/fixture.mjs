// What the end-to-end tests (*.test.mjs in this folder) share: a model repo imported with
// `hubmirror import` and served by `hubmirror serve`, the size and digests each of its files must
// have, and a fetch that records each exchange, so a failing assertion can show what the server
// answered.

import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";

import { BIN, filesUnder, gitBlobSha1, importRepo, lfsPointer, pseudoRandomStream, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";

export const REPO_NAME = "acme/e2e-model";
export const REPO = { type: "model", name: REPO_NAME };
export const BASE_MODEL = "acme/base-model";
const MiB = 1024 * 1024;
// Odd sizes on purpose: range ends and Content-Length must be exact, not rounded to a block.
export const BIG_FILE_SIZE = 50 * MiB + 4097;
const SAFETENSORS_SIZE = 6 * 1024 + 13;

export const BIG_FILE = "big/shard.bin";
export const LFS_SMALL_FILE = "weights/model.safetensors";
export const NESTED_FILE = "sub/dir/notes.txt";
export const SPACE_FILE = "docs/read me.txt";

// Files the importer decides to store with LFS (by extension, as in the Hub's default .gitattributes).
const LFS_FILES = new Set([BIG_FILE, LFS_SMALL_FILE]);

/**
 * @typedef {{ size: number, sha256: string, gitSha1: string, lfs: boolean, pointer?: string }} Expected
 */

/** @type {Map<string, Expected>} What each file of the repo must be, by path. */
export const expected = new Map();

/** The server the tests talk to (`url`), and the data dir the repo was imported into. */
export const served = { url: "", dataDir: "", server: undefined };

// ---------------------------------------------------------------------------------------------
// Source folder, import, server
// ---------------------------------------------------------------------------------------------

async function addSourceFile(srcDir, relPath, content) {
	const abs = join(srcDir, ...relPath.split("/"));
	await mkdir(dirname(abs), { recursive: true });
	await writeFile(abs, content);
	const buf = Buffer.from(content);
	const sha256 = sha256Hex(buf);
	const lfs = LFS_FILES.has(relPath);
	expected.set(relPath, {
		size: buf.length,
		sha256,
		gitSha1: gitBlobSha1(lfs ? Buffer.from(lfsPointer(sha256, buf.length)) : buf),
		lfs,
		...(lfs ? { pointer: lfsPointer(sha256, buf.length) } : {}),
	});
}

async function addBigSourceFile(srcDir, relPath, size) {
	const abs = join(srcDir, ...relPath.split("/"));
	await mkdir(dirname(abs), { recursive: true });
	const next = pseudoRandomStream(relPath);
	const hash = createHash("sha256");
	const out = createWriteStream(abs);
	let left = size;
	while (left > 0) {
		const chunk = next(Math.min(left, MiB));
		hash.update(chunk);
		if (!out.write(chunk)) {
			await once(out, "drain");
		}
		left -= chunk.length;
	}
	out.end();
	await once(out, "finish");
	const sha256 = hash.digest("hex");
	const pointer = lfsPointer(sha256, size);
	expected.set(relPath, { size, sha256, gitSha1: gitBlobSha1(Buffer.from(pointer)), lfs: true, pointer });
}

async function buildSource(srcDir) {
	await addSourceFile(
		srcDir,
		"README.md",
		`---\nbase_model: ${BASE_MODEL}\nlicense: mit\n---\n\n# e2e-model\n\nA fixture for the hubmirror end-to-end test.\n`,
	);
	await addSourceFile(
		srcDir,
		"config.json",
		JSON.stringify({ architectures: ["BertModel"], model_type: "bert", hidden_size: 64 }, null, 2) + "\n",
	);
	await addSourceFile(srcDir, NESTED_FILE, "nested notes\nsecond line\n");
	await addSourceFile(srcDir, SPACE_FILE, "a file name with a space\n");
	await addSourceFile(srcDir, LFS_SMALL_FILE, pseudoRandomStream(LFS_SMALL_FILE)(SAFETENSORS_SIZE));
	await addBigSourceFile(srcDir, BIG_FILE, BIG_FILE_SIZE);
}

/** Serves `dataDir` in place of the server running (if any); its URL, also in `served.url`. */
export async function serve(dataDir) {
	await stopServer();
	served.server = await serveHubmirror(BIN, dataDir, { keepStderr: 8000 });
	served.url = served.server.url;
	return served.url;
}

async function stopServer() {
	const server = served.server;
	served.server = undefined;
	await server?.stop();
}

/** Builds the repo's source under `work`, imports it into `served.dataDir` and serves it. */
async function importAndServe(work, t) {
	const srcDir = work.dir("src");
	await buildSource(srcDir);
	served.dataDir = work.dir("data");
	await importRepo(t, served.dataDir, srcDir, REPO_NAME);
	await serve(served.dataDir);
}

/**
 * Sets up a test file: its WorkRoot (`prefix`), in which the repo is first built, imported into
 * `served.dataDir` and served; the server is stopped after the tests.
 */
export function useServedRepo(prefix) {
	return useWorkRoot(prefix, { setup: importAndServe, teardown: stopServer, timeout: 90_000 });
}

/** Every regular file under `root` (symlinks followed), as repo-style paths with "/". */
export async function snapshotFiles(root) {
	return (await filesUnder(root)).map((abs) => relative(root, abs).split(sep).join("/"));
}

// ---------------------------------------------------------------------------------------------
// A fetch that records each exchange
// ---------------------------------------------------------------------------------------------

const exchanges = [];
const SHOWN_HEADERS = [
	"content-type",
	"content-length",
	"content-range",
	"accept-ranges",
	"etag",
	"x-linked-etag",
	"x-linked-size",
	"x-repo-commit",
	"x-error-code",
	"x-error-message",
	"location",
	"link",
	"content-encoding",
];

export async function recordingFetch(input, init) {
	const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
	const method = init?.method ?? "GET";
	const reqHeaders = new Headers(init?.headers);
	const record = {
		request: `${method} ${url}${reqHeaders.has("range") ? ` [Range: ${reqHeaders.get("range")}]` : ""}`,
	};
	exchanges.push(record);
	if (exchanges.length > 40) {
		exchanges.shift();
	}
	try {
		const resp = await fetch(input, init);
		const headers = SHOWN_HEADERS.filter((h) => resp.headers.has(h)).map((h) => `${h}: ${resp.headers.get(h)}`);
		record.response = `${resp.status} ${resp.statusText}${resp.redirected ? ` (redirected to ${resp.url})` : ""}; ${headers.join("; ")}`;
		return resp;
	} catch (err) {
		record.response = `fetch failed: ${err?.cause?.message ?? err?.message ?? err}`;
		throw err;
	}
}

/** Runs `fn`; on failure, attaches the last HTTP exchanges and the server's state to the test output, then rethrows. */
export async function withTrace(t, fn) {
	exchanges.length = 0;
	try {
		await fn();
	} catch (err) {
		for (const ex of exchanges.slice(-12)) {
			t.diagnostic(`${ex.request} -> ${ex.response ?? "(no response yet)"}`);
		}
		if (served.server && !served.server.alive()) {
			t.diagnostic("hubmirror serve has exited");
		}
		if (served.server?.stderr()) {
			t.diagnostic(`server stderr (tail): ${served.server.stderr().slice(-2000)}`);
		}
		throw err;
	}
}
