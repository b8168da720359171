// End-to-end test: a repo imported with `hubmirror import` and served by `hubmirror serve` must work,
// unmodified, with the official JavaScript client `@huggingface/hub`.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { constants as fsConstants, createReadStream, createWriteStream } from "node:fs";
import { access, lstat, mkdir, mkdtemp, open, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";

import {
	downloadFile,
	downloadFileToCacheDir,
	fileDownloadInfo,
	listFiles,
	modelInfo,
	snapshotDownload,
} from "@huggingface/hub";

const REPO_NAME = "acme/e2e-model";
const REPO = { type: "model", name: REPO_NAME };
const BASE_MODEL = "acme/base-model";
const MiB = 1024 * 1024;
// Odd sizes on purpose: range ends and Content-Length must be exact, not rounded to a block.
const BIG_FILE_SIZE = 50 * MiB + 4097;
const SAFETENSORS_SIZE = 6 * 1024 + 13;

const BIG_FILE = "big/shard.bin";
const LFS_SMALL_FILE = "weights/model.safetensors";
const NESTED_FILE = "sub/dir/notes.txt";
const SPACE_FILE = "docs/read me.txt";

// Files the importer decides to store with LFS (by extension, as in the Hub's default .gitattributes).
const LFS_FILES = new Set([BIG_FILE, LFS_SMALL_FILE]);


const HEX40 = /^[0-9a-f]{40}$/;

/**
 * @typedef {{ size: number, sha256: string, gitSha1: string, lfs: boolean, pointer?: string }} Expected
 */

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function sha256Hex(buf) {
	return createHash("sha256").update(buf).digest("hex");
}

function gitBlobSha1(buf) {
	return createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
}

function lfsPointer(sha256, size) {
	return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** Deterministic pseudo-random bytes: the AES-128-CTR keystream of a fixed key, IV chosen by `seed`. */
function pseudoRandomStream(seed) {
	const key = Buffer.alloc(16, 0x5a);
	const iv = createHash("sha256").update(seed).digest().subarray(0, 16);
	const cipher = createCipheriv("aes-128-ctr", key, iv);
	return (n) => cipher.update(Buffer.alloc(n));
}

async function sha256OfFile(path) {
	const hash = createHash("sha256");
	for await (const chunk of createReadStream(path)) {
		hash.update(chunk);
	}
	return hash.digest("hex");
}

/** Hashes a Blob by streaming it (never buffers a large download in memory). */
async function digestBlob(blob) {
	const hash = createHash("sha256");
	const gitHash = createHash("sha1").update(`blob ${blob.size}\0`);
	let length = 0;
	for await (const chunk of blob.stream()) {
		hash.update(chunk);
		gitHash.update(chunk);
		length += chunk.byteLength;
	}
	return { sha256: hash.digest("hex"), gitSha1: gitHash.digest("hex"), length };
}

/** Every regular file under `root` (symlinks followed), as repo-style paths with "/". */
async function walkFiles(root) {
	const out = [];
	async function walk(dir, prefix) {
		for (const entry of await readdir(dir, { withFileTypes: true })) {
			const abs = join(dir, entry.name);
			const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
			const st = await stat(abs);
			if (st.isDirectory()) {
				await walk(abs, rel);
			} else if (st.isFile()) {
				out.push(rel);
			} else {
				throw new Error(`unexpected non-regular file in snapshot: ${rel}`);
			}
		}
	}
	await walk(root, "");
	return out.sort();
}

function ancestorsOf(paths) {
	const dirs = new Set();
	for (const p of paths) {
		const parts = p.split("/");
		for (let i = 1; i < parts.length; i++) {
			dirs.add(parts.slice(0, i).join("/"));
		}
	}
	return dirs;
}

function run(file, args, timeoutMs) {
	return new Promise((resolve) => {
		execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * MiB }, (error, stdout, stderr) => {
			resolve({ code: error ? (error.code ?? error.signal ?? "error") : 0, stdout, stderr, error });
		});
	});
}

// ---------------------------------------------------------------------------------------------
// A fetch that records each exchange, so a failing assertion can show what the server answered.
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

async function recordingFetch(input, init) {
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

/** Runs `fn`; on failure, attaches the last HTTP exchanges to the test output, then rethrows. */
async function withTrace(t, fn) {
	exchanges.length = 0;
	try {
		await fn();
	} catch (err) {
		for (const ex of exchanges.slice(-12)) {
			t.diagnostic(`${ex.request} -> ${ex.response ?? "(no response yet)"}`);
		}
		if (server && (server.exitCode !== null || server.signalCode !== null)) {
			t.diagnostic(`hubmirror serve has exited (code ${server.exitCode}, signal ${server.signalCode})`);
		}
		if (serverStderr) {
			t.diagnostic(`server stderr (tail): ${serverStderr.slice(-2000)}`);
		}
		throw err;
	}
}

// ---------------------------------------------------------------------------------------------
// Fixture: source folder, import, server
// ---------------------------------------------------------------------------------------------

/** @type {string} */ let workDir;
/** @type {string} */ let hubUrl;
/** @type {import("node:child_process").ChildProcess | undefined} */ let server;
let serverStderr = "";
let hubmirrorBin;
/** @type {Map<string, Expected>} */ const expected = new Map();

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

async function startServer(bin, dataDir) {
	const child = spawn(bin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0"], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	server = child;
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (s) => {
		serverStderr = (serverStderr + s).slice(-8000);
	});

	const lines = createInterface({ input: child.stdout });
	const firstLine = new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("timed out (20 s) waiting for the listening line")), 20_000);
		lines.once("line", (line) => {
			clearTimeout(timer);
			resolve(line);
		});
		child.once("exit", (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`hubmirror serve exited (code ${code}, signal ${signal}) before printing its address`));
		});
		child.once("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
	});

	let line;
	try {
		line = await firstLine;
	} catch (err) {
		err.message += `\nserver stderr:\n${serverStderr}`;
		throw err;
	}
	// Keep draining stdout so the server can never block on a full pipe.
	lines.on("line", () => {});

	const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
	assert.ok(m, `unexpected first stdout line from hubmirror serve: ${JSON.stringify(line)}`);
	assert.ok(Number(m[2]) > 0 && Number(m[2]) < 65536, `bad port in ${JSON.stringify(line)}`);
	return m[1];
}

async function stopServer() {
	const child = server;
	server = undefined;
	if (!child || child.exitCode !== null || child.signalCode !== null) {
		return;
	}
	const exited = once(child, "exit");
	child.kill("SIGTERM");
	const timer = setTimeout(() => {
		console.error("hubmirror serve did not exit within 5 s of SIGTERM; sending SIGKILL");
		child.kill("SIGKILL");
	}, 5_000);
	await exited;
	clearTimeout(timer);
}

// If the test process dies abruptly, do not leave the server running.
process.on("exit", () => {
	if (server && server.exitCode === null && server.signalCode === null) {
		server.kill("SIGKILL");
	}
});

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("hubmirror serves an imported model repo to @huggingface/hub", () => {
	before(
		async () => {
			const bin = process.env.HUBMIRROR_BIN;
			if (!bin) {
				throw new Error("HUBMIRROR_BIN is not set: point it at the hubmirror binary to test");
			}
			try {
				await access(bin, fsConstants.X_OK);
			} catch {
				throw new Error(`HUBMIRROR_BIN=${bin} is not an executable file`);
			}
			if (!(await stat(bin)).isFile()) {
				throw new Error(`HUBMIRROR_BIN=${bin} is not a file`);
			}

			workDir = await mkdtemp(join(tmpdir(), "hubmirror-e2e-"));
			const srcDir = join(workDir, "src");
			const dataDir = join(workDir, "data");
			await buildSource(srcDir);

			const imp = await run(bin, ["import", "--data", dataDir, "--repo", REPO_NAME, srcDir], 60_000);
			assert.equal(
				imp.code,
				0,
				`hubmirror import failed (exit ${imp.code})\nstdout:\n${imp.stdout}\nstderr:\n${imp.stderr}`,
			);

			hubmirrorBin = bin;
			hubUrl = await startServer(bin, dataDir);
		},
		{ timeout: 90_000 },
	);

	after(async () => {
		await stopServer();
		if (workDir) {
			await rm(workDir, { recursive: true, force: true });
		}
	});

	test("modelInfo returns name, sha, cardData and derived tags", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			const info = await modelInfo({
				name: REPO_NAME,
				hubUrl,
				additionalFields: ["sha", "cardData", "tags"],
				fetch: recordingFetch,
			});
			assert.equal(info.name, REPO_NAME);
			assert.equal(typeof info.id, "string", "modelInfo.id comes from the `_id` field, which must be present");
			assert.ok(info.id.length > 0, "`_id` must not be empty");
			assert.match(info.sha, HEX40, "sha must be a 40-hex commit id");
			assert.ok(!Number.isNaN(info.updatedAt.getTime()), "lastModified must be a parseable date");
			assert.ok(info.cardData && typeof info.cardData === "object", "cardData must be an object");
			assert.equal(info.cardData.base_model, BASE_MODEL);
			assert.equal(info.cardData.license, "mit");
			assert.ok(Array.isArray(info.tags), "tags must be an array");
			assert.ok(
				info.tags.includes(`base_model:${BASE_MODEL}`),
				`tags must include base_model:${BASE_MODEL}, got ${JSON.stringify(info.tags)}`,
			);

			// An explicit branch resolves to the same commit as the default revision (HEAD).
			const onMain = await modelInfo({
				name: REPO_NAME,
				hubUrl,
				revision: "main",
				additionalFields: ["sha"],
				fetch: recordingFetch,
			});
			assert.equal(onMain.sha, info.sha, "revision main and HEAD must resolve to the same commit");
		});
	});

	test("listFiles (recursive) lists every file with size and hashes", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			const entries = [];
			for await (const entry of listFiles({ repo: REPO, recursive: true, hubUrl, fetch: recordingFetch })) {
				entries.push(entry);
			}

			const files = new Map();
			const dirs = new Set();
			for (const e of entries) {
				assert.ok(e.type === "file" || e.type === "directory", `bad entry type: ${JSON.stringify(e)}`);
				assert.equal(e.xetHash, undefined, `a mirror must not advertise Xet: ${JSON.stringify(e)}`);
				if (e.type === "file") {
					assert.ok(!files.has(e.path), `file listed twice: ${e.path}`);
					files.set(e.path, e);
				} else {
					assert.ok(!dirs.has(e.path), `directory listed twice: ${e.path}`);
					dirs.add(e.path);
				}
			}

			for (const [path, exp] of expected) {
				const e = files.get(path);
				assert.ok(e, `${path} is missing from the listing; listed files: ${JSON.stringify([...files.keys()])}`);
				assert.equal(e.size, exp.size, `${path}: size`);
				assert.equal(e.oid, exp.gitSha1, `${path}: oid must be the git blob sha1${exp.lfs ? " of the LFS pointer" : ""}`);
				if (exp.lfs) {
					assert.ok(e.lfs, `${path} must be an LFS file: ${JSON.stringify(e)}`);
					assert.equal(e.lfs.oid, exp.sha256, `${path}: lfs.oid must be the sha256 of the content`);
					assert.equal(e.lfs.size, exp.size, `${path}: lfs.size`);
					assert.equal(e.lfs.pointerSize, Buffer.byteLength(exp.pointer), `${path}: lfs.pointerSize`);
				} else {
					assert.equal(e.lfs, undefined, `${path} must not be an LFS file: ${JSON.stringify(e)}`);
				}
			}
			for (const path of files.keys()) {
				assert.ok(expected.has(path), `unexpected file in the listing: ${path}`);
			}

			const expectedDirs = ancestorsOf(files.keys());
			assert.deepEqual(
				[...dirs].sort(),
				[...expectedDirs].sort(),
				"a recursive listing must contain each ancestor directory as a `directory` entry",
			);
		});
	});

	test("fileDownloadInfo: size and ETag for LFS and regular files, null for a missing file", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const path of [LFS_SMALL_FILE, BIG_FILE]) {
				const exp = expected.get(path);
				const info = await fileDownloadInfo({ repo: REPO, path, hubUrl, fetch: recordingFetch });
				assert.ok(info, `${path}: fileDownloadInfo returned null`);
				assert.equal(info.size, exp.size, `${path}: size`);
				assert.equal(info.etag, `"${exp.sha256}"`, `${path}: etag must be the quoted sha256`);
				assert.equal(info.xet, undefined, `${path}: a mirror must not advertise Xet`);
				assert.equal(new URL(info.url).origin, new URL(hubUrl).origin, `${path}: download URL origin`);
			}

			const cfg = expected.get("config.json");
			const regular = await fileDownloadInfo({ repo: REPO, path: "config.json", hubUrl, fetch: recordingFetch });
			assert.ok(regular, "config.json: fileDownloadInfo returned null");
			assert.equal(regular.size, cfg.size, "config.json: size");
			assert.equal(regular.etag, `"${cfg.gitSha1}"`, "config.json: etag must be the quoted git blob sha1");

			const missing = await fileDownloadInfo({
				repo: REPO,
				path: "does/not/exist.bin",
				hubUrl,
				fetch: recordingFetch,
			});
			assert.equal(missing, null, "a missing file must give null (404 with X-Error-Code: EntryNotFound)");
		});
	});

	test("downloadFile returns the exact bytes of every file", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const [path, exp] of expected) {
				const blob = await downloadFile({ repo: REPO, path, hubUrl, fetch: recordingFetch });
				assert.ok(blob, `${path}: downloadFile returned null`);
				assert.equal(blob.size, exp.size, `${path}: blob size`);
				const got = await digestBlob(blob);
				assert.equal(got.length, exp.size, `${path}: number of bytes received`);
				assert.equal(got.sha256, exp.sha256, `${path}: sha256 of the downloaded bytes`);
			}

			// `raw: true` gives the git blob, i.e. the LFS pointer for an LFS file.
			const exp = expected.get(LFS_SMALL_FILE);
			const raw = await downloadFile({ repo: REPO, path: LFS_SMALL_FILE, raw: true, hubUrl, fetch: recordingFetch });
			assert.ok(raw, `${LFS_SMALL_FILE}: raw downloadFile returned null`);
			assert.equal(await raw.text(), exp.pointer, `${LFS_SMALL_FILE}: raw content must be the LFS pointer`);

			const missing = await downloadFile({ repo: REPO, path: "does/not/exist.bin", hubUrl, fetch: recordingFetch });
			assert.equal(missing, null, "downloadFile of a missing file must give null");
		});
	});

	test("downloadFileToCacheDir writes the HF cache layout", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			const { sha } = await modelInfo({ name: REPO_NAME, hubUrl, additionalFields: ["sha"], fetch: recordingFetch });
			const cacheDir = join(workDir, "cache-single");
			const storage = join(cacheDir, "models--acme--e2e-model");

			for (const path of [BIG_FILE, NESTED_FILE, SPACE_FILE]) {
				const exp = expected.get(path);
				const result = await downloadFileToCacheDir({ repo: REPO, path, hubUrl, cacheDir, fetch: recordingFetch });
				// The snapshot folder is named after paths-info's lastCommit.id (the only commit here).
				assert.equal(
					result,
					join(storage, "snapshots", sha, ...path.split("/")),
					`${path}: returned path (snapshot folder named after lastCommit.id from paths-info)`,
				);
				assert.ok((await lstat(result)).isSymbolicLink(), `${path}: snapshot entry must link to a blob`);
				const blobPath = await realpath(result);
				assert.equal(dirname(blobPath), await realpath(join(storage, "blobs")), `${path}: blob location`);
				assert.equal(basename(blobPath), exp.lfs ? exp.sha256 : exp.gitSha1, `${path}: blob name (etag)`);
				assert.equal((await stat(result)).size, exp.size, `${path}: size on disk`);
				assert.equal(await sha256OfFile(result), exp.sha256, `${path}: sha256 on disk`);
			}

			// A second call is served from the cache and returns the same path.
			const again = await downloadFileToCacheDir({ repo: REPO, path: NESTED_FILE, hubUrl, cacheDir, fetch: recordingFetch });
			assert.equal(again, join(storage, "snapshots", sha, ...NESTED_FILE.split("/")));
		});
	});

	test("snapshotDownload materialises the whole repo", { timeout: 90_000 }, async (t) => {
		await withTrace(t, async () => {
			const { sha } = await modelInfo({ name: REPO_NAME, hubUrl, additionalFields: ["sha"], fetch: recordingFetch });
			const cacheDir = join(workDir, "cache-snapshot");
			const storage = join(cacheDir, "models--acme--e2e-model");

			const folder = await snapshotDownload({ repo: REPO, hubUrl, cacheDir, fetch: recordingFetch });
			assert.equal(folder, join(storage, "snapshots", sha), "snapshot folder");
			assert.equal((await readFile(join(storage, "refs", "main"), "utf8")).trim(), sha, "refs/main");

			const onDisk = await walkFiles(folder);
			const extra = onDisk.filter((p) => !expected.has(p));
			assert.deepEqual(extra, [], "unexpected extra files in the snapshot");
			const missing = [...expected.keys()].filter((p) => !onDisk.includes(p));
			assert.deepEqual(missing, [], "files missing from the snapshot");

			for (const p of onDisk) {
				const abs = join(folder, ...p.split("/"));
				const exp = expected.get(p);
				assert.equal((await stat(abs)).size, exp.size, `${p}: size in snapshot`);
				assert.equal(await sha256OfFile(abs), exp.sha256, `${p}: sha256 in snapshot`);
			}
		});
	});

	test("hubmirror check verifies a snapshotDownload against the server's signed manifest", { timeout: 90_000 }, async (t) => {
		await withTrace(t, async () => {
			const cacheDir = join(workDir, "cache-check");
			const folder = await snapshotDownload({ repo: REPO, hubUrl, cacheDir, fetch: recordingFetch });

			const keyResponse = await recordingFetch(`${hubUrl}/api/integrity/key`);
			assert.equal(keyResponse.status, 200, "GET /api/integrity/key");
			const keyId = keyResponse.headers.get("x-key-id");
			assert.ok(keyId, "/api/integrity/key must name its key in X-Key-Id");
			const keyFile = join(workDir, "check-key.pem");
			await writeFile(keyFile, await keyResponse.text());

			const manifestResponse = await recordingFetch(`${hubUrl}/api/integrity/models/${REPO_NAME}/main`);
			const manifestText = await manifestResponse.text();
			assert.equal(manifestResponse.status, 200, `GET /api/integrity/models/${REPO_NAME}/main: ${manifestText.slice(0, 300)}`);
			const manifest = JSON.parse(manifestText).manifest;
			assert.equal(manifest.key_id, keyId, "the manifest is signed with the served key");
			assert.deepEqual(manifest.files.map((f) => f.path).sort(), [...expected.keys()].sort(), "the manifest lists every file");
			const manifestFile = join(workDir, "check-manifest.json");
			await writeFile(manifestFile, manifestText);

			// The snapshot folder holds symlinks into blobs/, which check follows.
			const passed = await run(hubmirrorBin, ["check", "--manifest", manifestFile, "--key", keyFile, folder], 60_000);
			assert.equal(passed.code, 0, `hubmirror check on the snapshot (exit ${passed.code})\nstdout:\n${passed.stdout}\nstderr:\n${passed.stderr}`);
			assert.match(passed.stdout, new RegExp(`^${expected.size} ok, 0 mismatched, 0 missing, 0 unexpected$`, "m"));

			// One byte of one downloaded file changed, in the blob its snapshot entry links to.
			const damaged = join(folder, ...BIG_FILE.split("/"));
			assert.ok((await lstat(damaged)).isSymbolicLink(), `${BIG_FILE}: snapshot entry must link to a blob`);
			const blob = await open(await realpath(damaged), "r+");
			try {
				const byte = Buffer.alloc(1);
				await blob.read(byte, 0, 1, BIG_FILE_SIZE >> 1);
				byte[0] ^= 0x01;
				await blob.write(byte, 0, 1, BIG_FILE_SIZE >> 1);
			} finally {
				await blob.close();
			}
			const failed = await run(hubmirrorBin, ["check", "--manifest", manifestFile, "--key", keyFile, folder], 60_000);
			assert.equal(failed.code, 1, `hubmirror check after the change (exit ${failed.code})\nstdout:\n${failed.stdout}\nstderr:\n${failed.stderr}`);
			assert.match(
				failed.stdout,
				new RegExp(`^mismatched: ${BIG_FILE}: sha256 [0-9a-f]{64} \\(${BIG_FILE_SIZE} bytes\\), expected ${expected.get(BIG_FILE).sha256} \\(${BIG_FILE_SIZE} bytes\\)$`, "m"),
			);
			assert.match(failed.stdout, new RegExp(`^${expected.size - 1} ok, 1 mismatched, 0 missing, 0 unexpected$`, "m"));
		});
	});

	// Runs last: it replaces the first server with a mirror of it.
	test("a hubmirror synced from this one serves the same files to the client", { timeout: 120_000 }, async (t) => {
		const mirrorData = join(workDir, "mirror-data");
		const synced = await run(hubmirrorBin, ["sync", "--data", mirrorData, "--upstream", hubUrl, REPO_NAME], 90_000);
		assert.equal(synced.code, 0, `hubmirror sync failed (exit ${synced.code})\nstdout:\n${synced.stdout}\nstderr:\n${synced.stderr}`);
		const { sha } = await modelInfo({ name: REPO_NAME, hubUrl, additionalFields: ["sha"] });
		// The mirror must stand on its own: the upstream is gone before the client asks.
		await stopServer();
		const mirrorUrl = await startServer(hubmirrorBin, mirrorData);
		await withTrace(t, async () => {
			const info = await modelInfo({ name: REPO_NAME, hubUrl: mirrorUrl, additionalFields: ["sha"], fetch: recordingFetch });
			assert.equal(info.sha, sha, "the mirror serves the upstream's commit");
			for (const [path, exp] of expected) {
				const download = await fileDownloadInfo({ repo: REPO, path, hubUrl: mirrorUrl, fetch: recordingFetch });
				assert.ok(download, `${path}: missing on the mirror`);
				assert.equal(download.size, exp.size, `${path}: size on the mirror`);
				assert.equal(download.etag, `"${exp.lfs ? exp.sha256 : exp.gitSha1}"`, `${path}: ETag on the mirror`);
			}
			const cacheDir = join(workDir, "cache-mirror");
			const folder = await snapshotDownload({ repo: REPO, hubUrl: mirrorUrl, cacheDir, fetch: recordingFetch });
			const onDisk = await walkFiles(folder);
			assert.deepEqual([...onDisk].sort(), [...expected.keys()].sort(), "the mirror's snapshot has exactly the source files");
			for (const p of onDisk) {
				assert.equal(await sha256OfFile(join(folder, ...p.split("/"))), expected.get(p).sha256, `${p}: sha256 from the mirror`);
			}
		});
	});

	// After the mirror test; it too replaces the server, with one on the importing instance.
	test("a bundle exported from this instance and imported by another serves the same files", { timeout: 120_000 }, async (t) => {
		const dataDir = join(workDir, "data");
		const bundle = join(workDir, "bundle");
		const innerData = join(workDir, "inner-data");
		const keyFile = join(workDir, "outer-key.pem");
		// The exporting instance's public key, from its own server (the mirror test stopped it).
		await stopServer();
		const outerUrl = await startServer(hubmirrorBin, dataDir);
		const key = await fetch(`${outerUrl}/api/integrity/key`);
		assert.equal(key.status, 200, "the exporting instance serves its public key");
		await writeFile(keyFile, await key.text());
		const exported = await run(hubmirrorBin, ["export", "--data", dataDir, "--out", bundle, "--volume-size", "16M", "--all"], 60_000);
		assert.equal(exported.code, 0, `hubmirror export failed (exit ${exported.code})\nstderr:\n${exported.stderr}`);
		const imported = await run(hubmirrorBin, ["import-bundle", "--data", innerData, bundle, "--trusted-key", keyFile], 60_000);
		assert.equal(imported.code, 0, `hubmirror import-bundle failed (exit ${imported.code})\nstderr:\n${imported.stderr}`);
		for (const args of [["--up"], ["--down"]]) {
			const outer = await run(hubmirrorBin, ["lineage", "--data", dataDir, REPO_NAME, ...args], 20_000);
			const inner = await run(hubmirrorBin, ["lineage", "--data", innerData, REPO_NAME, ...args], 20_000);
			assert.equal(inner.code, outer.code, `lineage ${args} exit codes`);
			assert.equal(inner.stdout, outer.stdout, `lineage ${args} on both sides`);
		}
		await stopServer();
		const innerUrl = await startServer(hubmirrorBin, innerData);
		await withTrace(t, async () => {
			const cacheDir = join(workDir, "cache-inner");
			const folder = await snapshotDownload({ repo: REPO, hubUrl: innerUrl, cacheDir, fetch: recordingFetch });
			const onDisk = await walkFiles(folder);
			assert.deepEqual([...onDisk].sort(), [...expected.keys()].sort(), "the imported snapshot has exactly the source files");
			for (const p of onDisk) {
				assert.equal(await sha256OfFile(join(folder, ...p.split("/"))), expected.get(p).sha256, `${p}: sha256 from the importing instance`);
			}
		});
	});
});
