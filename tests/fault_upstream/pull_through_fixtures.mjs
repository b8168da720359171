// What the pull-through tests (pull_through.test.mjs) share: a fake Hub (fake_hub.mjs) and a
// `hubmirror serve --config` whose [pull_through] table points at it, the repos they serve, the
// checks of what a client of the mirror got and of what the upstream was asked, and a pacing relay
// that slows the upstream's file bodies down so that a test can act while a fill is under way.
// Plain Node 20; everything runs on 127.0.0.1 with port 0.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { access, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { join, relative, sep } from "node:path";
import { performance } from "node:perf_hooks";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";

import { blobPath, encodePath, filesUnder, pseudoRandomBytes, sha256Hex, sha256OfFile } from "../support/harness.mjs";
import { hubScenarios } from "./scenario.mjs";

export const MiB = 1024 * 1024;
export const CONFIG = "config.json";
export const README = "README.md";
export const WEIGHTS = "model.safetensors";
const SHARD = "shards/pytorch_model-00001-of-00002.bin";
const SPACED = "docs/read me.txt";

/** The requests that carry a file's bytes (CDN for LFS files, /api/resolve-cache for the others). */
const CONTENT_ROUTES = new Set(["cdn", "resolve-cache"]);

/** The scenarios of the pull-through test file (see scenario.mjs), and its work root. */
export function pullThroughScenarios(prefix) {
	return hubScenarios({ prefix, retries: 1, timeout: 30_000, runTimeoutMs: 20_000 });
}

// ---------------------------------------------------------------------------------------------
// Repos
// ---------------------------------------------------------------------------------------------

/**
 * A model repo: git-stored small files (one with a space in its path) and two LFS files over
 * 1 MiB at odd sizes. `lfs` adds more LFS files: { path: size }.
 */
export function modelRepo(id, { lfs = {}, ...extra } = {}) {
	const files = [
		{ path: ".gitattributes", content: Buffer.from("*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n") },
		{ path: README, content: Buffer.from(`---\nlicense: mit\n---\n\n# ${id}\n`) },
		{ path: CONFIG, content: Buffer.from(JSON.stringify({ model_type: "llama", hidden_size: 64, id }) + "\n") },
		{ path: SPACED, content: Buffer.from(`notes for ${id}\n`) },
		{ path: WEIGHTS, content: pseudoRandomBytes(`${id}/${WEIGHTS}`, MiB + MiB / 2 + 3), lfs: true },
		{ path: SHARD, content: pseudoRandomBytes(`${id}/${SHARD}`, 2 * MiB + 5), lfs: true },
	];
	for (const [path, size] of Object.entries(lfs)) {
		files.push({ path, content: pseudoRandomBytes(`${id}/${path}`, size), lfs: true });
	}
	return { id, cardData: { license: "mit" }, files, ...extra };
}

/** A dataset repo: a small README and one LFS file over 1 MiB. */
export function datasetRepo(id) {
	return {
		id,
		type: "dataset",
		files: [
			{ path: README, content: Buffer.from(`---\nlicense: cc-by-4.0\n---\n\n# ${id}\n`) },
			{ path: "data/train-00000-of-00001.parquet", content: pseudoRandomBytes(`${id}/train`, MiB + 77), lfs: true },
		],
	};
}

// ---------------------------------------------------------------------------------------------
// The mirror
// ---------------------------------------------------------------------------------------------

/**
 * Writes a config of a pure pull-through mirror of `upstreamUrl` (no [[mirror]] rule); its path.
 * `sync`: the [sync] table's retries and stall timeout (null: no [sync] table, the defaults).
 */
export async function writePullThroughConfig(
	path,
	upstreamUrl,
	{ allow = ["*"], deny = [], maxAgeSeconds = 600, gated = false, sync = { retries: 1, stallTimeoutSeconds: 5 } } = {},
) {
	const list = (items) => `[${items.map((x) => JSON.stringify(x)).join(", ")}]`;
	const lines = [
		"[upstream]",
		`url = "${upstreamUrl}"`,
		"",
		"[pull_through]",
		"enabled = true",
		`allow = ${list(allow)}`,
		`deny = ${list(deny)}`,
		`max_age_seconds = ${maxAgeSeconds}`,
		`gated = ${gated}`,
		"",
	];
	if (sync) lines.push("[sync]", `retries = ${sync.retries}`, `stall_timeout_seconds = ${sync.stallTimeoutSeconds}`, "");
	await writeFile(path, lines.join("\n"));
	return path;
}

/**
 * Starts a fake hub with `repos` (unless the scenario has one already) and a pull-through mirror
 * of it (or of `upstreamUrl`, a relay in front of it) on a new data dir; `config` as in
 * writePullThroughConfig.
 */
export async function startPullThrough(ctx, work, { repos = [], upstreamUrl, config = {}, data = work.dir("data") } = {}) {
	const hub = ctx.hub ?? (await ctx.startHub({ repos }));
	const configPath = await writePullThroughConfig(work.dir("config.toml"), upstreamUrl ?? hub.url, config);
	const serve = () => ctx.serve(data, { args: ["--config", configPath], keepStderr: 20_000 });
	const mirror = await serve();
	return { hub, mirror, data, configPath, serve };
}

/**
 * A hub serving `repoId` with one more LFS file, `path` of `size` bytes, a pull-through mirror
 * of it behind a pacing relay (startPacedRelay) at `bytesPerSecond`; runs `fn` with { hub, relay,
 * mirror, data, serve, big (the file) }, then closes the relay.
 */
export async function withPacedMirror(ctx, work, { repoId, path, size, bytesPerSecond }, fn) {
	const hub = await ctx.startHub({ repos: [modelRepo(repoId, { lfs: { [path]: size } })] });
	const relay = await startPacedRelay(hub, bytesPerSecond);
	try {
		const started = await startPullThrough(ctx, work, { upstreamUrl: relay.url });
		return await fn({ ...started, relay, big: hub.repo(repoId).files.get(path) });
	} finally {
		await relay.close();
	}
}

/** The mirror's URL of a file of a repo (`type` "model" or "dataset") at `rev`. */
export function fileUrl(mirror, repoId, path, { type = "model", rev = "main" } = {}) {
	const prefix = type === "model" ? "" : `/${type}s`;
	return `${mirror.url}${prefix}/${repoId}/resolve/${encodeURIComponent(rev)}/${encodePath(path)}`;
}

/** The mirror's URL of a repo's API route: `rest` after /api/{type}s/{repo}. */
export function apiUrl(mirror, repoId, rest = "", type = "model") {
	return `${mirror.url}/api/${type}s/${repoId}${rest}`;
}

/** GET of a file of the mirror: must answer 200 with exactly `file`'s bytes; the response. */
export async function getFile(mirror, repoId, file, options = {}) {
	const res = await hashGet(fileUrl(mirror, repoId, file.path, options));
	const what = `${repoId}/${file.path}`;
	assert.equal(res.status, 200, `${what}: the mirror answered ${res.status} ${res.head}`);
	assert.ok(res.complete, `${what}: the body was cut after ${res.size} of ${file.size} bytes`);
	assert.equal(res.size, file.size, `${what}: size`);
	assert.equal(res.sha256, file.sha256, `${what}: the bytes differ from the upstream's`);
	assert.equal(res.headers.etag, `"${file.lfs ? file.sha256 : file.gitSha1}"`, `${what}: ETag`);
	return res;
}

/**
 * GET of a file the mirror must fetch from the upstream again (a fill, with a request for the
 * file's bytes); `options` as in fileUrl.
 */
export async function assertFilled(hub, mirror, repoId, file, what, options = {}) {
	const before = mark(hub);
	const res = await getFile(mirror, repoId, file, options);
	assertCache(res, "fill", what);
	const fetched = contentRequests(hub, repoId, file.path).filter((r) => r.n > before && [200, 206].includes(r.status));
	assert.ok(fetched.length > 0, `${what}: the file's bytes were not fetched again:\n  ${show(since(hub, before))}`);
	return res;
}

/** GET of a file the mirror must serve from its store: a hit, with no upstream request. */
export async function assertServedFromStore(hub, mirror, repoId, file, what, options = {}) {
	const before = mark(hub);
	const res = await getFile(mirror, repoId, file, options);
	assertCache(res, "hit", what);
	assertNoUpstreamRequest(hub, before, what);
	return res;
}

/** The response's X-Mirror-Cache must be `expected` (hit, fill or pass). */
export function assertCache(res, expected, what) {
	assert.equal(res.headers["x-mirror-cache"], expected, `${what}: X-Mirror-Cache`);
}

/** A request to the mirror: { status, headers (lower-case names), body (JSON, else the text), text }. */
export async function mirrorRequest(url, init = {}) {
	const res = await fetch(url, init);
	const text = await res.text();
	let body = text;
	try {
		body = JSON.parse(text);
	} catch {
		// not JSON: an error text, kept as it is
	}
	return { status: res.status, headers: Object.fromEntries(res.headers), body, text };
}

/**
 * The answer (of mirrorRequest or hashGet) must be the error `code` with `status`; its message
 * (X-Error-Message and body) is returned.
 */
export function assertError(res, status, code, what) {
	const text = res.text ?? res.head;
	assert.equal(res.status, status, `${what}: ${res.status} ${text.slice(0, 300)}`);
	assert.equal(res.headers["x-error-code"], code, `${what}: X-Error-Code (message: ${text.slice(0, 300)})`);
	return `${res.headers["x-error-message"] ?? ""} ${text}`;
}

// ---------------------------------------------------------------------------------------------
// What the upstream was asked
// ---------------------------------------------------------------------------------------------

/** The position in the hub's log now: `since(hub, mark)` lists what came after. */
export function mark(hub) {
	return hub.log.length;
}

/** The requests of the hub and its CDN after `at` (a mark). */
export function since(hub, at) {
	return hub.log.slice(at);
}

/** One line per request, for assertion messages. */
export function show(requests) {
	return requests.map((r) => `#${r.n} ${r.server} ${r.method} ${r.url.replace(/\?.*$/, "")}${r.range ? ` [${r.range}]` : ""} -> ${r.status}`).join("\n  ");
}

/** No request reached the hub or its CDN after `at`. */
export function assertNoUpstreamRequest(hub, at, what) {
	const later = since(hub, at);
	assert.equal(later.length, 0, `${what}: the upstream was asked ${later.length} times:\n  ${show(later)}`);
}

/** The requests for a repo's content (files' bytes) in the hub's log. */
export function contentRequests(hub, repoId, path) {
	return hub.log.filter((r) => CONTENT_ROUTES.has(r.route) && r.repo === repoId && (path === undefined || r.path === path));
}

/** Every request the hub saw for a repo (of either type): its info, tree, files, anything. */
export function repoRequests(hub, repoId) {
	const lower = repoId.toLowerCase();
	return hub.log.filter((r) => r.repo?.toLowerCase() === lower);
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/** Whether the store holds a blob of this digest. */
export async function blobStored(dataDir, sha256) {
	try {
		await access(blobPath(dataDir, sha256));
		return true;
	} catch {
		return false;
	}
}

/** Every blob of the store hashes to its name (none holds bad bytes); the names. */
export async function assertStoreClean(dataDir) {
	const root = join(dataDir, "blobs", "sha256");
	const names = [];
	for (const abs of await filesUnder(join(dataDir, "blobs"))) {
		const name = relative(root, abs).split(sep).at(-1);
		assert.equal(await sha256OfFile(abs), name, `blob ${relative(dataDir, abs)} does not hash to its name`);
		names.push(name);
	}
	return names;
}

/** Regular files under `root` whose bytes hash to `sha256` (the store's layout does not matter). */
export async function filesWithDigest(root, size, sha256) {
	const hits = [];
	for (const abs of await filesUnder(root)) {
		const bytes = await readFile(abs);
		if (bytes.length === size && sha256Hex(bytes) === sha256) hits.push(abs);
	}
	return hits;
}

/** Polls `check` (async, truthy when done) every 50 ms until it holds or `ms` pass; its value. */
export async function eventually(check, ms, what) {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = await check();
		if (value) return value;
		if (Date.now() > deadline) assert.fail(`${what}: still not true after ${ms} ms`);
		await sleep(50);
	}
}

// ---------------------------------------------------------------------------------------------
// Streaming GET and the pacing relay
// ---------------------------------------------------------------------------------------------

/**
 * One GET over a fresh connection, its body hashed as it arrives (never held whole), whatever
 * happens: { status, headers, size, sha256, head (the first bytes, for messages), complete (false
 * when the connection closed before the body's end), ms }. `progress.received` counts the body
 * bytes as they arrive; the request fails after `timeoutMs`.
 */
export function hashGet(url, { headers = {}, progress = { received: 0 }, timeoutMs = 20_000 } = {}) {
	const startedAt = performance.now();
	return new Promise((resolve, reject) => {
		const req = http.get(url, { agent: false, headers }, (res) => {
			const hash = createHash("sha256");
			const head = [];
			let size = 0;
			res.on("data", (chunk) => {
				if (size < 300) head.push(chunk.subarray(0, 300 - size));
				size += chunk.length;
				progress.received = size;
				hash.update(chunk);
			});
			res.on("error", () => {});
			res.on("close", () =>
				resolve({
					status: res.statusCode,
					headers: res.headers,
					size,
					sha256: hash.digest("hex"),
					head: Buffer.concat(head).toString(),
					complete: res.complete,
					ms: performance.now() - startedAt,
				}),
			);
		});
		req.on("error", reject);
		req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
	});
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "host"]);

/**
 * A relay in front of a fake hub and its CDN: the mirror's upstream URL. Redirects to the CDN
 * and page links are rewritten to pass through it too, and every body is paced at
 * `relay.bytesPerSecond` (Infinity: not paced; it may be changed at any time).
 */
export async function startPacedRelay(hub, bytesPerSecond) {
	const relay = { url: "", bytesPerSecond };
	const server = http.createServer((req, res) => {
		const viaCdn = req.url.startsWith("/__cdn/");
		const target = new URL(viaCdn ? req.url.slice("/__cdn".length) : req.url, viaCdn ? hub.cdnUrl : hub.url);
		const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
		const upstreamReq = http.request(target, { method: req.method, headers, agent: false }, async (upstreamRes) => {
			const out = {};
			for (const [k, v] of Object.entries(upstreamRes.headers)) {
				if (HOP_BY_HOP.has(k)) continue;
				out[k] = k === "location" || k === "link" ? String(v).replaceAll(hub.cdnUrl, `${relay.url}/__cdn`).replaceAll(hub.url, relay.url) : v;
			}
			res.writeHead(upstreamRes.statusCode, out);
			const startedAt = Date.now();
			async function* paced(source) {
				let sent = 0;
				for await (const chunk of source) {
					for (let at = 0; at < chunk.length; at += 64 * 1024) {
						const piece = chunk.subarray(at, at + 64 * 1024);
						const due = startedAt + ((sent + piece.length) / relay.bytesPerSecond) * 1000;
						if (due > Date.now()) await sleep(due - Date.now());
						sent += piece.length;
						yield piece;
					}
				}
			}
			// A client that goes away ends the upstream's response too (and the other way round).
			pipeline(upstreamRes, paced, res).catch(() => {});
		});
		upstreamReq.on("error", () => res.destroy());
		res.on("close", () => upstreamReq.destroy());
		req.pipe(upstreamReq);
	});
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	relay.url = `http://127.0.0.1:${server.address().port}`;
	relay.close = () => {
		server.closeAllConnections();
		return new Promise((resolve) => server.close(() => resolve()));
	};
	return relay;
}
