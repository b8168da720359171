// Fault tests for `hubmirror sync`: the real binary against fake_hub.mjs, a fake Hugging Face Hub
// that answers like the real one (302 to a CDN on another port for LFS files, relative 307 to
// /api/resolve-cache for small files, paginated trees with xetHash, the Hub's error shapes) and
// injects faults per repo and path.
//
// Each test either expects the sync to survive the fault and publish the repo byte for byte (the
// mirror is then served with `hubmirror serve` and every file is compared with the source), or to
// refuse it and publish nothing.
//
// A large LFS file (40 MiB and a bit) is downloaded as parallel ranges: its first chunk through
// /resolve, the rest as bounded `Range: bytes=a-b` requests on the signed CDN URL the redirect
// gave. Those tests check the ranges (each byte fetched once, in parallel, one /resolve), and the
// faults a chunk can meet: a cut body, an expired signature, wrong bytes; and that --limit-rate
// keeps one stream.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { readFile, rm, stat } from "node:fs/promises";

import { join } from "node:path";
import { randomBytes } from "node:crypto";

import { corruptBytes, gitBlobSha1, pseudoRandomBytes, sha256Hex, startFakeHub } from "./fake_hub.mjs";
import { diagnoseOutput, encodePath, filesUnder, killChildren, makeWorkRoot, runHubmirror, serveHubmirror } from "./harness.mjs";

const BIN = process.env.HUBMIRROR_BIN;
const RETRIES = "2";
const STALL_TIMEOUT_S = 2;
const TOKEN_ENV = "FAULT_HUB_TOKEN";
const APPROVED_TOKEN = `hf_approved${randomBytes(12).toString("hex")}`;
const UNAPPROVED_TOKEN = `hf_unapproved${randomBytes(12).toString("hex")}`;

const LFS_BIG = "model.safetensors";
const LFS_SHARD = "shards/pytorch_model-00001-of-00002.bin";
const TOKENIZER = "tokenizer.json";
const CONFIG = "config.json";
const SPACED = "docs/read me.txt";
const LFS_HUGE = "consolidated.safetensors";
const HUGE_SIZE = 40 * 1024 * 1024 + 12345; // a partial last chunk
// The client's range_chunk_bytes (sync/curl_upstream_hub.h), only to aim faults past the first
// chunk; the assertions read the ranges from the fake hub's log.
const RANGE_CHUNK = 8 * 1024 * 1024;

/** @type {Set<Awaited<ReturnType<typeof startFakeHub>>>} */
const hubs = new Set();
let workRoot;
let dirCounter = 0;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const GITATTRIBUTES = [
	"*.bin filter=lfs diff=lfs merge=lfs -text",
	"*.h5 filter=lfs diff=lfs merge=lfs -text",
	"*.safetensors filter=lfs diff=lfs merge=lfs -text",
	"*.pt filter=lfs diff=lfs merge=lfs -text",
	"",
].join("\n");

function tokenizerJson(seed) {
	const vocab = {};
	for (let i = 0; i < 4000; i++) {
		vocab[`${seed.slice(0, 3)}tok${i.toString(36)}`] = i;
	}
	return JSON.stringify({ version: "1.0", model: { type: "BPE", vocab } }, null, 1) + "\n";
}

/**
 * A model repo as the Hub would list it: git-stored small files (one with a space in its path)
 * and two LFS files. With 2 entries a page, its recursive tree (7 files, 2 directories) takes 5
 * pages.
 */
function modelRepo(id, extra = {}) {
	const seed = id;
	return {
		id,
		cardData: { license: "mit", base_model: "acme/base" },
		tags: ["transformers", "safetensors", "license:mit", "base_model:finetune:acme/base", "region:us"],
		files: [
			{ path: ".gitattributes", content: Buffer.from(GITATTRIBUTES) },
			{ path: "README.md", content: Buffer.from(`---\nlicense: mit\nbase_model: acme/base\n---\n\n# ${id}\n`) },
			{ path: CONFIG, content: Buffer.from(JSON.stringify({ model_type: "llama", hidden_size: 64, seed }) + "\n") },
			{ path: TOKENIZER, content: Buffer.from(tokenizerJson(seed)) },
			{ path: SPACED, content: Buffer.from(`notes for ${id}\nsecond line\n`) },
			{ path: LFS_BIG, content: pseudoRandomBytes(`${seed}/${LFS_BIG}`, 256 * 1024 + 37), lfs: true },
			{ path: LFS_SHARD, content: pseudoRandomBytes(`${seed}/${LFS_SHARD}`, 96 * 1024 + 5), lfs: true },
		],
		...extra,
	};
}

/** modelRepo with one more LFS file, large enough to be downloaded as parallel ranges. */
function largeFileRepo(id) {
	const spec = modelRepo(id);
	spec.files.push({ path: LFS_HUGE, content: pseudoRandomBytes(`${id}/${LFS_HUGE}`, HUGE_SIZE), lfs: true });
	return spec;
}

function newDataDir() {
	return join(workRoot, `data-${++dirCounter}`);
}

// ---------------------------------------------------------------------------------------------
// Scenario wrapper: on failure, show what the fake hub saw and what the client printed
// ---------------------------------------------------------------------------------------------

function scenario(name, fn, timeout = 40_000) {
	test(name, { timeout }, async (t) => {
		const ctx = {
			hub: undefined,
			runs: [],
			async startHub(options) {
				const hub = await startFakeHub(options);
				hubs.add(hub);
				ctx.hub = hub;
				return hub;
			},
			/** `hubmirror sync` against the hub, fast retry settings. */
			async sync(dataDir, repos, { args = [], env = {} } = {}) {
				const run = await runHubmirror(
					BIN,
					[
						"sync",
						"--data",
						dataDir,
						"--upstream",
						ctx.hub.url,
						"--retries",
						RETRIES,
						"--stall-timeout",
						String(STALL_TIMEOUT_S),
						...args,
						...repos,
					],
					{ env },
				);
				ctx.runs.push(run);
				assert.ok(!run.timedOut, `hubmirror sync did not finish in time\nstderr:\n${run.stderr}`);
				return run;
			},
		};
		try {
			await fn(ctx, t);
		} catch (err) {
			for (const run of ctx.runs) {
				t.diagnostic(`hubmirror ${run.args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}`);
				t.diagnostic(`  exit ${run.code}${run.signal ? ` signal ${run.signal}` : ""} after ${run.ms} ms`);
				diagnoseOutput(t, run);
			}
			if (ctx.hub) {
				t.diagnostic("requests the fake hub and CDN saw:");
				for (const l of ctx.hub.describe()) t.diagnostic(`  ${l}`);
			}
			throw err;
		} finally {
			if (ctx.hub) {
				hubs.delete(ctx.hub);
				await ctx.hub.close();
			}
		}
	});
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/** Serves the mirror and checks every file of the upstream repo: bytes, ETag, X-Repo-Commit. */
async function assertMirrored(dataDir, hub, repoId) {
	const repo = hub.repo(repoId);
	const mirror = await serveHubmirror(BIN, dataDir);
	try {
		const info = await fetch(`${mirror.url}/api/models/${repoId}`);
		assert.equal(info.status, 200, `mirror /api/models/${repoId} answered ${info.status}`);
		const body = await info.json();
		assert.equal(body.sha, repo.sha, "the mirrored revision must be the upstream commit");
		assert.deepEqual(body.cardData, repo.cardData, "cardData must be mirrored verbatim");
		for (const file of repo.files.values()) {
			const res = await fetch(`${mirror.url}/${repoId}/resolve/main/${encodePath(file.path)}`);
			assert.equal(res.status, 200, `mirror resolve ${file.path} answered ${res.status}`);
			const bytes = Buffer.from(await res.arrayBuffer());
			assert.equal(bytes.length, file.size, `${file.path}: mirrored size`);
			assert.equal(sha256Hex(bytes), sha256Hex(file.content), `${file.path}: mirrored bytes differ from the source`);
			const etag = file.lfs ? file.sha256 : file.gitSha1;
			assert.equal(
				res.headers.get("etag"),
				`"${etag}"`,
				`${file.path}: ETag must be the quoted ${file.lfs ? "sha256" : "git blob sha1"} (never the CDN's Xet hash)`,
			);
			assert.equal(res.headers.get("x-repo-commit"), repo.sha, `${file.path}: X-Repo-Commit`);
		}
	} finally {
		await mirror.stop();
	}
}

/** The repo must not be visible in the mirror at all. */
async function assertNotPublished(dataDir, repoId) {
	const mirror = await serveHubmirror(BIN, dataDir);
	try {
		const res = await fetch(`${mirror.url}/api/models/${repoId}`);
		assert.equal(res.status, 404, `mirror /api/models/${repoId} must be 404 after a refused sync, got ${res.status}`);
		assert.equal(res.headers.get("x-error-code"), "RepoNotFound");
		const file = await fetch(`${mirror.url}/${repoId}/resolve/main/${CONFIG}`);
		assert.equal(file.status, 404, `mirror must not serve ${repoId}/${CONFIG}`);
		await file.arrayBuffer();
	} finally {
		await mirror.stop();
	}
}

/** No file body was sent twice: across all attempts, each file's bytes went out exactly once. */
function assertEachFileServedOnce(hub, repoId) {
	for (const file of hub.repo(repoId).files.values()) {
		assert.equal(
			hub.bytesServed(repoId, file.path),
			file.size,
			`${file.path}: ${hub.bytesServed(repoId, file.path)} body bytes were sent for a ${file.size}-byte file`,
		);
	}
}

function assertCdnNeverSawAuthorization(hub) {
	const leaked = hub.requests({ server: "cdn" }).filter((r) => r.authorization !== null);
	assert.equal(leaked.length, 0, `Authorization reached the CDN on ${leaked.map((r) => `#${r.n}`).join(", ")}`);
}

function assertSecretNotPrinted(run, secret) {
	assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "the token must never be printed");
}

/** `[a, b]` of a bounded `bytes=a-b` Range header; null for none or an open-ended one. */
function boundedRange(header) {
	const m = header === null ? null : /^bytes=(\d+)-(\d+)$/.exec(header);
	return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * The bytes the 200 and 206 responses among `requests` delivered (cut ones included, as far as
 * they went), laid end to end by offset, must cover `[0, size)` exactly: no gap, no byte twice.
 */
function assertBytesTile(requests, size) {
	const pieces = requests
		.filter((r) => (r.status === 200 || r.status === 206) && r.bytesSent > 0)
		.map((r) => ({ n: r.n, start: r.rangeStart, end: r.rangeStart + r.bytesSent }))
		.sort((a, b) => a.start - b.start);
	let next = 0;
	for (const p of pieces) {
		assert.equal(p.start, next, `#${p.n} delivered bytes from ${p.start}: ${p.start < next ? "fetched twice" : "a gap"} before it`);
		next = p.end;
	}
	assert.equal(next, size, `the responses delivered bytes up to ${next} of ${size}`);
}

/** Pairs of requests whose transfers were under way at the same time. */
function overlappingPairs(requests) {
	const pairs = [];
	for (const [i, a] of requests.entries()) {
		for (const b of requests.slice(i + 1)) {
			if (a.startMs < b.endMs && b.startMs < a.endMs) pairs.push([a.n, b.n]);
		}
	}
	return pairs;
}

/** Paths of regular files under `root` whose sha256 is `digest` (the store's layout does not matter). */
async function filesWithDigest(root, size, digest) {
	const hits = [];
	for (const f of await filesUnder(root)) {
		const st = await stat(f);
		if (st.size === size && sha256Hex(await readFile(f)) === digest) hits.push(f);
	}
	return hits;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("hubmirror sync against a faulty Hub-like upstream", () => {
	before(async () => {
		workRoot = await makeWorkRoot(BIN, "hubmirror-fault-");
	});

	after(async () => {
		killChildren();
		for (const hub of hubs) await hub.close();
		hubs.clear();
		if (workRoot) await rm(workRoot, { recursive: true, force: true });
	});

	scenario("no fault: CDN 302, relative 307, paginated tree with xetHash; re-sync downloads nothing", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/clean")] });
		const repo = hub.repo("acme/clean");
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/clean"]);
		assert.equal(run.code, 0, "sync must succeed");
		assert.match(run.stdout, new RegExp(repo.sha), "stdout names the mirrored commit");

		// The tree: every page once, in order, following absolute Link headers with a cursor.
		const pages = hub.requests({ route: "tree" });
		const pageCount = Math.ceil(repo.tree.length / 2);
		assert.deepEqual(pages.map((r) => r.page), [...Array(pageCount).keys()], "each tree page fetched once, in order");
		for (const r of pages.slice(1)) assert.match(r.url, /[?&]cursor=/, "later pages come from the Link cursor");

		for (const file of repo.files.values()) {
			const resolves = hub.requests({ route: "resolve", path: file.path });
			assert.equal(resolves.length, 1, `${file.path}: one /resolve request`);
			assert.equal(resolves[0].status, file.lfs ? 302 : 307);
			if (file.lfs) {
				const cdn = hub.requests({ route: "cdn", path: file.path });
				assert.equal(cdn.length, 1, `${file.path}: one CDN request`);
				assert.equal(cdn[0].status, 200, `${file.path}: CDN answered ${cdn[0].status} (${cdn[0].signatureError ?? ""})`);
			} else {
				const cached = hub.requests({ route: "resolve-cache", path: file.path });
				assert.equal(cached.length, 1, `${file.path}: one /api/resolve-cache request`);
				assert.equal(cached[0].status, 200);
			}
		}
		assertEachFileServedOnce(hub, "acme/clean");
		assert.equal(hub.log.filter((r) => r.authorization !== null).length, 0, "no token given, none sent");

		// Unchanged upstream: one call, nothing downloaded.
		const before = hub.log.length;
		const again = await ctx.sync(data, ["acme/clean"]);
		assert.equal(again.code, 0);
		assert.match(again.stdout, /up to date/);
		const later = hub.log.slice(before);
		assert.deepEqual(
			later.filter((r) => ["tree", "resolve", "resolve-cache", "cdn"].includes(r.route)).map((r) => r.url),
			[],
			"an up-to-date re-sync lists and downloads nothing",
		);

		await assertMirrored(data, hub, "acme/clean");
	});

	scenario("a legacy or renamed id follows the Hub's relative 307s to the canonical repo", async (ctx) => {
		const hub = await ctx.startHub({
			repos: [modelRepo("google-bert/bert-base-uncased")],
			aliases: { "bert-base-uncased": "google-bert/bert-base-uncased" },
		});
		const data = newDataDir();
		const run = await ctx.sync(data, ["bert-base-uncased"]);
		assert.equal(run.code, 0, "sync must succeed through the redirects");
		const redirected = hub.requests({ route: "alias" });
		assert.ok(redirected.some((r) => r.url.startsWith("/api/models/bert-base-uncased/revision/")), "repo info was redirected");
		assert.ok(redirected.some((r) => r.url.startsWith("/bert-base-uncased/resolve/")), "downloads were redirected");
		const repo = hub.repo("google-bert/bert-base-uncased");
		const mirror = await serveHubmirror(BIN, data);
		try {
			for (const file of repo.files.values()) {
				const response = await fetch(`${mirror.url}/bert-base-uncased/resolve/main/${encodePath(file.path)}`);
				assert.equal(response.status, 200, `${file.path} served under the requested id`);
				const bytes = Buffer.from(await response.arrayBuffer());
				assert.equal(sha256Hex(bytes), sha256Hex(file.content), `${file.path}: sha256`);
			}
		} finally {
			await mirror.stop();
		}
	});

	scenario("429 with Retry-After: 1 on a file's /resolve is retried after a second", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/rate-limited")] });
		hub.inject({ route: "resolve", repo: "acme/rate-limited", path: CONFIG, kind: "429", retryAfter: 1 });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/rate-limited"]);
		assert.equal(run.code, 0, "sync must survive a 429");

		const resolves = hub.requests({ route: "resolve", path: CONFIG });
		assert.deepEqual(resolves.map((r) => r.status), [429, 307], "one 429, then the retry");
		const waited = resolves[1].t - resolves[0].t;
		assert.ok(waited >= 950, `Retry-After: 1 must be honoured; the retry came after ${waited} ms`);
		assert.equal(hub.requests({ route: "resolve-cache", path: CONFIG }).length, 1);
		assertEachFileServedOnce(hub, "acme/rate-limited");
		await assertMirrored(data, hub, "acme/rate-limited");
	});

	scenario("429 on a tree page with only the RateLimit header (t=1) is retried after a second", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/rate-limited-tree")] });
		hub.inject({ route: "tree", repo: "acme/rate-limited-tree", page: 2, kind: "429", rateLimitReset: 1 });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/rate-limited-tree"]);
		assert.equal(run.code, 0, "sync must survive a 429 on a tree page");

		const pages = hub.requests({ route: "tree" });
		assert.deepEqual(pages.map((r) => r.page), [0, 1, 2, 2, 3, 4], "page 2 fetched again, no other page twice");
		const [limited, retried] = pages.filter((r) => r.page === 2);
		assert.equal(limited.status, 429);
		assert.equal(retried.status, 200);
		assert.ok(retried.t - limited.t >= 950, `RateLimit t=1 must be honoured; retried after ${retried.t - limited.t} ms`);
		assertEachFileServedOnce(hub, "acme/rate-limited-tree");
		await assertMirrored(data, hub, "acme/rate-limited-tree");
	});

	scenario("a 500 on an LFS file's /resolve is retried", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/server-error")] });
		hub.inject({ route: "resolve", repo: "acme/server-error", path: LFS_BIG, kind: "500" });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/server-error"]);
		assert.equal(run.code, 0, "sync must survive a 500");

		assert.deepEqual(hub.requests({ route: "resolve", path: LFS_BIG }).map((r) => r.status), [500, 302]);
		assert.equal(hub.requests({ route: "cdn", path: LFS_BIG }).length, 1, "the CDN is asked once");
		assertEachFileServedOnce(hub, "acme/server-error");
		await assertMirrored(data, hub, "acme/server-error");
	});

	scenario("a CDN body cut mid-stream is resumed with Range from where it stopped", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/truncated-lfs")] });
		hub.inject({ route: "content", repo: "acme/truncated-lfs", path: LFS_BIG, kind: "truncate" });
		const file = hub.repo("acme/truncated-lfs").files.get(LFS_BIG);
		const half = Math.floor(file.size / 2);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/truncated-lfs"]);
		assert.equal(run.code, 0, "sync must survive a truncated body");

		const cdn = hub.requests({ route: "cdn", path: LFS_BIG });
		assert.equal(cdn.length, 2, "the cut transfer and one resume");
		assert.equal(cdn[0].range, null);
		assert.equal(cdn[0].bytesSent, half);
		assert.equal(cdn[1].range, `bytes=${half}-`, "the resume starts at the first missing byte");
		assert.equal(cdn[1].status, 206);
		assert.equal(cdn[1].contentRange, `bytes ${half}-${file.size - 1}/${file.size}`);
		// The signed CDN URL is not reused: the resume goes through /resolve again.
		assert.equal(hub.requests({ route: "resolve", path: LFS_BIG }).length, 2, "re-resolved before resuming");
		assertCdnNeverSawAuthorization(hub);
		assertEachFileServedOnce(hub, "acme/truncated-lfs");
		await assertMirrored(data, hub, "acme/truncated-lfs");
	});

	scenario("a small file cut mid-stream behind the relative 307 is resumed with Range", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/truncated-small")] });
		hub.inject({ route: "content", repo: "acme/truncated-small", path: TOKENIZER, kind: "truncate" });
		const file = hub.repo("acme/truncated-small").files.get(TOKENIZER);
		const half = Math.floor(file.size / 2);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/truncated-small"]);
		assert.equal(run.code, 0, "sync must survive a truncated body");

		const cached = hub.requests({ route: "resolve-cache", path: TOKENIZER });
		assert.equal(cached.length, 2, "the cut transfer and one resume");
		assert.equal(cached[0].bytesSent, half);
		assert.equal(cached[1].range, `bytes=${half}-`);
		assert.equal(cached[1].status, 206);
		assertEachFileServedOnce(hub, "acme/truncated-small");
		await assertMirrored(data, hub, "acme/truncated-small");
	});

	scenario("a CDN response that stalls after its headers is abandoned after --stall-timeout and retried", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/stalled")] });
		hub.inject({ route: "content", repo: "acme/stalled", path: LFS_SHARD, kind: "stall" });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/stalled"]);
		assert.equal(run.code, 0, "sync must survive a stalled transfer");

		const cdn = hub.requests({ route: "cdn", path: LFS_SHARD });
		assert.equal(cdn.length, 2, "the stalled transfer and one retry");
		assert.equal(cdn[0].fault, "stall");
		assert.equal(cdn[0].bytesSent, 0);
		const gap = cdn[1].t - cdn[0].t;
		assert.ok(gap >= STALL_TIMEOUT_S * 1000 - 100, `gave up on the stall after ${gap} ms, before --stall-timeout`);
		assert.ok(gap < STALL_TIMEOUT_S * 1000 + 6000, `gave up on the stall only after ${gap} ms`);
		assert.equal(cdn[1].status, 200);
		assertEachFileServedOnce(hub, "acme/stalled");
		await assertMirrored(data, hub, "acme/stalled");
	});

	for (const { label, path, lfs } of [
		{ label: "an LFS file (sha256)", path: LFS_SHARD, lfs: true },
		{ label: "a git-stored file (git blob sha1)", path: TOKENIZER, lfs: false },
	]) {
		scenario(`wrong bytes of the right length, every time, for ${label}: refused, nothing published`, async (ctx) => {
			const repoId = lfs ? "acme/corrupt-lfs" : "acme/corrupt-small";
			const hub = await ctx.startHub({ repos: [modelRepo(repoId)] });
			hub.inject({ route: "content", repo: repoId, path, kind: "corrupt", times: Infinity });
			const file = hub.repo(repoId).files.get(path);
			const bad = corruptBytes(file.content);
			const expected = lfs ? file.sha256 : file.oid;
			const actual = lfs ? sha256Hex(bad) : gitBlobSha1(bad);
			const data = newDataDir();

			const run = await ctx.sync(data, [repoId]);
			assert.equal(run.code, 1, "a file that never verifies must fail the sync");
			assert.ok(run.stderr.includes(repoId), "stderr names the repo");
			assert.ok(run.stderr.includes(path), "stderr names the file");
			assert.ok(run.stderr.includes(expected), `stderr gives the expected digest ${expected}`);
			assert.ok(run.stderr.includes(actual), `stderr gives the digest of the bytes received, ${actual}`);

			const served = hub.requests({ route: lfs ? "cdn" : "resolve-cache", path });
			assert.ok(served.length >= 1 && served.every((r) => r.fault === "corrupt"), "the corrupt file was fetched");
			assert.deepEqual(await filesWithDigest(join(data, "blobs"), bad.length, sha256Hex(bad)), [], "the bad bytes entered the store");
			await assertNotPublished(data, repoId);

			// The upstream is repaired: nothing left behind by the refused sync may stand in the way.
			hub.clearFaults();
			const repaired = await ctx.sync(data, [repoId]);
			assert.equal(repaired.code, 0, "once the upstream serves the right bytes, the sync succeeds");
			await assertMirrored(data, hub, repoId);
		});
	}

	scenario("gated repo, no token: 401 GatedRepo, a message saying what to do, nothing published", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated"]);
		assert.equal(run.code, 1);
		assert.ok(hub.log.some((r) => r.status === 401 && r.errorCode === "GatedRepo"), "the hub answered 401 GatedRepo");
		assert.match(run.stderr, /acme\/gated/, "stderr names the repo");
		assert.match(run.stderr, /gated/i, "stderr says the repo is gated");
		assert.match(run.stderr, /accept/i, "stderr tells the operator to accept the terms upstream");
		assert.match(run.stderr, /--token-env/, "stderr tells the operator to pass a token with --token-env");
		assert.equal(hub.requests({ server: "cdn" }).length, 0, "nothing was downloaded");
		await assertNotPublished(data, "acme/gated");
	});

	scenario("gated repo, token not approved: 403 GatedRepo, the token reaches the hub, nothing published", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated"], {
			args: ["--token-env", TOKEN_ENV],
			env: { [TOKEN_ENV]: UNAPPROVED_TOKEN },
		});
		assert.equal(run.code, 1);
		assert.ok(hub.log.some((r) => r.status === 403 && r.errorCode === "GatedRepo"), "the hub answered 403 GatedRepo");
		for (const r of hub.requests({ server: "hub" })) {
			assert.equal(r.authorization, `Bearer ${UNAPPROVED_TOKEN}`, `request #${r.n} to the hub lacks the token`);
		}
		assert.match(run.stderr, /acme\/gated/);
		assert.match(run.stderr, /gated/i);
		assert.match(run.stderr, /accept/i);
		assert.match(run.stderr, /--token-env/);
		assertSecretNotPrinted(run, UNAPPROVED_TOKEN);
		await assertNotPublished(data, "acme/gated");
	});

	scenario("gate enforced only on file downloads: 401 GatedRepo on /resolve gives the same advice, nothing published", async (ctx) => {
		const hub = await ctx.startHub({
			repos: [modelRepo("acme/gated-files", { gated: true, gateOn: ["resolve"], approvedTokens: [APPROVED_TOKEN] })],
		});
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated-files"]);
		assert.equal(run.code, 1);
		const resolves = hub.requests({ route: "resolve" });
		assert.ok(resolves.length >= 1 && resolves.every((r) => r.status === 401 && r.errorCode === "GatedRepo"));
		const perPath = new Map();
		for (const r of resolves) perPath.set(r.path, (perPath.get(r.path) ?? 0) + 1);
		for (const [path, n] of perPath) assert.equal(n, 1, `${path}: a 401 GatedRepo is not retried (${n} requests)`);
		assert.match(run.stderr, /acme\/gated-files/);
		assert.match(run.stderr, /gated/i);
		assert.match(run.stderr, /accept/i);
		assert.match(run.stderr, /--token-env/);
		assert.equal(hub.requests({ server: "cdn" }).length, 0);
		await assertNotPublished(data, "acme/gated-files");
	});

	scenario("retries exhausted mid-file: exit 1, nothing published; the next run resumes with Range", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/flaky-link")] });
		// Every attempt of this run is cut halfway through what it asked for (1 + --retries attempts).
		hub.inject({ route: "content", repo: "acme/flaky-link", path: LFS_BIG, kind: "truncate", times: Number(RETRIES) + 1 });
		const file = hub.repo("acme/flaky-link").files.get(LFS_BIG);
		const data = newDataDir();

		const first = await ctx.sync(data, ["acme/flaky-link"]);
		assert.equal(first.code, 1, "a file that never arrives whole fails the sync");
		assert.match(first.stderr, /acme\/flaky-link/);
		assert.ok(first.stderr.includes(LFS_BIG), "stderr names the file");
		const cut = hub.requests({ route: "cdn", path: LFS_BIG });
		assert.equal(cut.length, Number(RETRIES) + 1, "one transfer per attempt");
		let offset = 0;
		for (const r of cut) {
			assert.equal(r.range, offset === 0 ? null : `bytes=${offset}-`, "each attempt resumes where the last one stopped");
			offset += r.bytesSent;
		}
		await assertNotPublished(data, "acme/flaky-link");

		const before = hub.log.length;
		const second = await ctx.sync(data, ["acme/flaky-link"]);
		assert.equal(second.code, 0);
		const resumed = hub.log.slice(before).filter((r) => r.route === "cdn" && r.path === LFS_BIG);
		assert.equal(resumed.length, 1);
		assert.equal(resumed[0].range, `bytes=${offset}-`, "the next run resumes from the bytes the first one kept");
		assert.equal(resumed[0].status, 206);
		assert.equal(hub.bytesServed("acme/flaky-link", LFS_BIG), file.size, "no byte of the file was sent twice");
		await assertMirrored(data, hub, "acme/flaky-link");
	});

	scenario("with --token-env, Authorization reaches the hub on every request and never the CDN", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated"], {
			args: ["--token-env", TOKEN_ENV],
			env: { [TOKEN_ENV]: APPROVED_TOKEN },
		});
		assert.equal(run.code, 0, "an approved token syncs the gated repo");

		const toHub = hub.requests({ server: "hub" });
		assert.ok(toHub.some((r) => r.route === "resolve-cache"), "small files went through /api/resolve-cache");
		for (const r of toHub) {
			assert.equal(r.authorization, `Bearer ${APPROVED_TOKEN}`, `request #${r.n} (${r.route}) to the hub lacks the token`);
		}
		const cdn = hub.requests({ server: "cdn" });
		assert.equal(cdn.length, 2, "both LFS files came from the CDN");
		assert.ok(cdn.every((r) => r.status === 200 && !r.signatureError), "the signed CDN URLs were used intact");
		assertCdnNeverSawAuthorization(hub);
		assertSecretNotPrinted(run, APPROVED_TOKEN);
		assertEachFileServedOnce(hub, "acme/gated");
		await assertMirrored(data, hub, "acme/gated");
	});

	for (const { label, token, status } of [
		{ label: "anonymous (bare 401, no X-Error-Code)", token: undefined, status: 401 },
		{ label: "with a token (404 RepoNotFound)", token: APPROVED_TOKEN, status: 404 },
	]) {
		scenario(`a missing repo next to a good one, ${label}: exit 1, the good one is mirrored`, async (ctx) => {
			const hub = await ctx.startHub({ repos: [modelRepo("acme/good")] });
			const data = newDataDir();

			const run = await ctx.sync(data, ["acme/missing", "acme/good"], {
				args: token ? ["--token-env", TOKEN_ENV] : [],
				env: token ? { [TOKEN_ENV]: token } : {},
			});
			assert.equal(run.code, 1, "one repo failed");
			assert.deepEqual(
				hub.requests({ repo: "acme/missing" }).map((r) => r.status),
				[status],
				"the missing repo costs one request",
			);
			const missingLines = run.stderr.split("\n").filter((l) => l.includes("acme/missing"));
			assert.ok(missingLines.some((l) => /not found/i.test(l)), "stderr says acme/missing was not found");
			const goodComplaints = run.stderr
				.split("\n")
				.filter((l) => l.includes("acme/good") && /^hubmirror:|\b(error|warning|fail(ed)?|not found)\b/i.test(l));
			assert.deepEqual(goodComplaints, [], "the good repo is not reported as failed");
			assert.match(run.stdout, /acme\/good\S*: mirrored/);
			if (token) assertSecretNotPrinted(run, token);
			assertEachFileServedOnce(hub, "acme/good");
			await assertMirrored(data, hub, "acme/good");
			await assertNotPublished(data, "acme/missing");
		});
	}

	scenario("a tree Link that points to another host is not followed (the token stays home)", async (ctx) => {
		const hub = await ctx.startHub({});
		hub.addRepo(modelRepo("acme/link-elsewhere", { treeLinkOrigin: hub.cdnUrl }));
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/link-elsewhere"], {
			args: ["--token-env", TOKEN_ENV],
			env: { [TOKEN_ENV]: APPROVED_TOKEN },
		});
		assert.equal(run.code, 1, "a tree that continues on another host cannot be trusted");
		assert.equal(hub.requests({ server: "cdn" }).length, 0, "nothing was sent to the other host");
		assert.match(run.stderr, /acme\/link-elsewhere/);
		assertSecretNotPrinted(run, APPROVED_TOKEN);
		await assertNotPublished(data, "acme/link-elsewhere");
	});

	// Large files: parallel ranges ------------------------------------------------------------

	scenario("a large LFS file is fetched as parallel bounded ranges of one signed URL, each byte once", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large")] });
		const file = hub.repo("acme/large").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/large"], {
			args: ["--token-env", TOKEN_ENV],
			env: { [TOKEN_ENV]: APPROVED_TOKEN },
		});
		assert.equal(run.code, 0, "sync must succeed");

		const resolves = hub.requests({ route: "resolve", path: LFS_HUGE });
		assert.equal(resolves.length, 1, "one /resolve: the signed URL it led to serves every range");
		assert.equal(resolves[0].status, 302);
		const cdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		assert.ok(cdn.length >= 3, `a ${file.size}-byte file in ${cdn.length} CDN request(s): not split into ranges`);
		for (const r of cdn) {
			assert.ok(boundedRange(r.range), `#${r.n}: Range ${r.range} is not a bounded bytes=a-b`);
			assert.equal(r.status, 206, `#${r.n}: CDN answered ${r.status} (${r.signatureError ?? ""})`);
			assert.equal(r.contentRange, `bytes ${boundedRange(r.range).join("-")}/${file.size}`);
			assert.ok(r.complete, `#${r.n} was not sent in full`);
			assert.equal(r.url, resolves[0].location.slice(hub.cdnUrl.length), `#${r.n} is not the URL /resolve gave`);
		}
		assert.equal(boundedRange(cdn[0].range)[0], 0, "the first range, the one behind the redirect, starts the file");
		assertBytesTile(cdn, file.size);
		const later = cdn.slice(1);
		const spans = later.map((r) => `#${r.n} ${r.startMs.toFixed(1)}-${r.endMs.toFixed(1)} ms`).join(", ");
		assert.ok(overlappingPairs(later).length > 0, `no two ranges were fetched at the same time: ${spans}`);
		assertCdnNeverSawAuthorization(hub);
		assertSecretNotPrinted(run, APPROVED_TOKEN);
		assertEachFileServedOnce(hub, "acme/large");
		await assertMirrored(data, hub, "acme/large");
	});

	scenario("a large file's later chunk cut mid-body is resumed with Range from where it stopped", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large-truncated")] });
		const cutAt = 3 * RANGE_CHUNK + RANGE_CHUNK / 2 + 4321;
		hub.inject({ route: "content", repo: "acme/large-truncated", path: LFS_HUGE, kind: "truncate", at: cutAt });
		const file = hub.repo("acme/large-truncated").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/large-truncated"]);
		assert.equal(run.code, 0, "sync must survive a truncated chunk");

		const cdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		const cut = cdn.filter((r) => r.fault === "truncate");
		assert.equal(cut.length, 1, "one chunk was cut");
		const [chunkStart, chunkEnd] = boundedRange(cut[0].range) ?? [];
		assert.ok(chunkStart > 0 && chunkStart < cutAt && cutAt <= chunkEnd, `the cut request asked for ${cut[0].range}`);
		assert.equal(cut[0].bytesSent, cutAt - chunkStart);
		const resumed = cdn.filter((r) => r.n > cut[0].n && r.rangeStart === cutAt);
		assert.equal(resumed.length, 1, `one resume from byte ${cutAt}`);
		assert.equal(resumed[0].range, `bytes=${cutAt}-${chunkEnd}`, "the resume asks for the rest of the cut chunk, no more");
		assert.equal(resumed[0].status, 206);
		assert.equal(resumed[0].contentRange, `bytes ${cutAt}-${chunkEnd}/${file.size}`);
		// The failed URL is not used again: the resume follows a fresh /resolve.
		const resolves = hub.requests({ route: "resolve", path: LFS_HUGE });
		assert.equal(resolves.length, 2, "the first chunk's /resolve, and one for the resume");
		assert.ok(cut[0].n < resolves[1].n && resolves[1].n < resumed[0].n, "re-resolved between the cut and the resume");
		assert.ok(resolves[1].location.endsWith(resumed[0].url), "the resume uses the signed URL the new /resolve gave");
		assert.notEqual(resumed[0].url, cut[0].url);
		assert.ok(cdn.every((r) => r === cut[0] || (r.status === 206 && r.complete)), "every other range arrived whole");
		assertBytesTile(cdn, file.size);
		assertEachFileServedOnce(hub, "acme/large-truncated");
		await assertMirrored(data, hub, "acme/large-truncated");
	});

	scenario("a signed CDN URL that expires after one use: later ranges resolve again and complete", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large-expiring")] });
		hub.inject({ route: "content", repo: "acme/large-expiring", path: LFS_HUGE, kind: "expire", uses: 1, times: Infinity });
		const file = hub.repo("acme/large-expiring").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/large-expiring"], {
			args: ["--token-env", TOKEN_ENV],
			env: { [TOKEN_ENV]: APPROVED_TOKEN },
		});
		assert.equal(run.code, 0, "sync must survive expired signatures");

		const cdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		const resolves = hub.requests({ route: "resolve", path: LFS_HUGE });
		const expired = cdn.filter((r) => r.fault === "expire");
		assert.ok(expired.length >= 1, "the signed URL was used again after its first use");
		for (const r of expired) {
			assert.equal(r.status, 403);
			assert.equal(r.signatureError, "Request has expired");
			// The same range again, from a fresh signature that a /resolve after the 403 gave.
			const retry = cdn.find((o) => o.n > r.n && o.range === r.range && o.status === 206);
			assert.ok(retry, `#${r.n} (${r.range}) was not fetched again`);
			assert.ok(
				resolves.some((q) => r.n < q.n && q.n < retry.n && q.range === r.range && q.location.endsWith(retry.url)),
				`no /resolve for ${r.range} between the 403 (#${r.n}) and the retry (#${retry.n})`,
			);
		}
		assert.equal(resolves.length, 1 + expired.length, "one /resolve to start, and one per expired URL");
		for (const q of resolves) {
			assert.equal(q.authorization, `Bearer ${APPROVED_TOKEN}`, `the /resolve #${q.n} lacks the token`);
		}
		assertCdnNeverSawAuthorization(hub);
		assert.ok(cdn.every((r) => r.fault === "expire" || (r.status === 206 && r.complete)), "every range served arrived whole");
		assertBytesTile(cdn, file.size);
		assertEachFileServedOnce(hub, "acme/large-expiring");
		await assertMirrored(data, hub, "acme/large-expiring");
	});

	scenario("wrong bytes in a large file's later chunk: downloaded again once, then refused, nothing published", async (ctx) => {
		const repoId = "acme/large-corrupt";
		const hub = await ctx.startHub({ repos: [largeFileRepo(repoId)] });
		hub.inject({ route: "content", repo: repoId, path: LFS_HUGE, kind: "corrupt", at: 2 * RANGE_CHUNK + 999, times: Infinity });
		const file = hub.repo(repoId).files.get(LFS_HUGE);
		const data = newDataDir();

		// The digest is checked once the whole file is in (FetchFile, sync/mirror_job.cc): a mismatch
		// is downloaded again once from scratch, and a second one fails the repo.
		const run = await ctx.sync(data, [repoId]);
		assert.equal(run.code, 1, "a file that never verifies must fail the sync");

		const cdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		const corrupt = cdn.filter((r) => r.fault === "corrupt");
		assert.equal(corrupt.length, 2, "the bad chunk came once per attempt: a digest mismatch is retried once");
		const [chunkStart, chunkEnd] = boundedRange(corrupt[0].range) ?? [];
		assert.ok(chunkStart > 0, `the corrupt request asked for ${corrupt[0].range}, not a later chunk`);
		assert.equal(corrupt[1].range, corrupt[0].range);
		const starts = cdn.filter((r) => r.rangeStart === 0);
		assert.equal(starts.length, 2, "each attempt starts from byte 0 (wrong bytes are not resumed from)");
		assert.ok(boundedRange(starts[1].range), `the second attempt is split into ranges too, not ${starts[1].range}`);
		assert.ok(corrupt[0].n < starts[1].n && starts[1].n < corrupt[1].n, "the second attempt came after the first bad chunk");
		assert.equal(hub.requests({ route: "resolve", path: LFS_HUGE }).length, 2, "one /resolve per attempt");

		// The digest of what was received: the file with that one chunk corrupted.
		const received = Buffer.concat([
			file.content.subarray(0, chunkStart),
			corruptBytes(file.content.subarray(chunkStart, chunkEnd + 1)),
			file.content.subarray(chunkEnd + 1),
		]);
		assert.ok(run.stderr.includes(repoId), "stderr names the repo");
		assert.ok(run.stderr.includes(LFS_HUGE), "stderr names the file");
		assert.ok(run.stderr.includes(file.sha256), `stderr gives the expected digest ${file.sha256}`);
		assert.ok(run.stderr.includes(sha256Hex(received)), `stderr gives the digest of the bytes received, ${sha256Hex(received)}`);
		assert.deepEqual(await filesWithDigest(join(data, "blobs"), file.size, sha256Hex(received)), [], "the bad bytes entered the store");
		await assertNotPublished(data, repoId);

		hub.clearFaults();
		const repaired = await ctx.sync(data, [repoId]);
		assert.equal(repaired.code, 0, "once the upstream serves the right bytes, the sync succeeds");
		await assertMirrored(data, hub, repoId);
	});

	scenario("with --limit-rate, a large file is one stream (no ranges)", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large-limited")] });
		const file = hub.repo("acme/large-limited").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/large-limited"], { args: ["--limit-rate", String(1024 * 1024 * 1024)] });
		assert.equal(run.code, 0, "sync must succeed");

		const cdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		assert.deepEqual(
			cdn.map((r) => [r.range, r.status, r.bytesSent]),
			[[null, 200, file.size]],
			"one CDN request, without Range, for the whole file",
		);
		assert.equal(hub.requests({ route: "resolve", path: LFS_HUGE }).length, 1);
		assertEachFileServedOnce(hub, "acme/large-limited");
		await assertMirrored(data, hub, "acme/large-limited");
	});
});
