// `hubmirror sync` against fake_hub.mjs with transfer faults: 429s (Retry-After, RateLimit t=), 500s,
// bodies cut mid-stream (resumed with Range, also across runs), stalled responses (abandoned after
// --stall-timeout) and wrong bytes of the right length (refused, nothing published). Each test
// expects the sync to survive the fault and publish the repo byte for byte, or to refuse it and
// publish nothing.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test sync_transfer_faults.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";

import { describe } from "node:test";

import { gitBlobSha1, sha256Hex } from "../support/harness.mjs";
import { corruptBytes } from "./fake_hub.mjs";
import { assertCdnNeverSawAuthorization, assertDigestMismatchReported, assertEachFileServedOnce, assertMirrored, assertNotPublished, assertRefusedThenRepaired, CONFIG, LFS_BIG, LFS_SHARD, modelRepo, RETRIES, STALL_TIMEOUT_S, syncScenarios, TOKENIZER } from "./sync_fixtures.mjs";

const { scenario, newDataDir } = syncScenarios("hubmirror-sync-faults-");

describe("hubmirror sync against an upstream with transfer faults", () => {
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
			assertDigestMismatchReported(run, repoId, path, expected, actual);
			const served = hub.requests({ route: lfs ? "cdn" : "resolve-cache", path });
			assert.ok(served.length >= 1 && served.every((r) => r.fault === "corrupt"), "the corrupt file was fetched");
			await assertRefusedThenRepaired(ctx, data, repoId, bad);
		});
	}

	scenario("retries exhausted mid-file: exit 1, nothing published; the next run resumes with Range", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/flaky-link")] });
		// Every attempt of this run is cut halfway through what it asked for (1 + --retries attempts).
		hub.inject({ route: "content", repo: "acme/flaky-link", path: LFS_BIG, kind: "truncate", times: RETRIES + 1 });
		const file = hub.repo("acme/flaky-link").files.get(LFS_BIG);
		const data = newDataDir();

		const first = await ctx.sync(data, ["acme/flaky-link"]);
		assert.equal(first.code, 1, "a file that never arrives whole fails the sync");
		assert.match(first.stderr, /acme\/flaky-link/);
		assert.ok(first.stderr.includes(LFS_BIG), "stderr names the file");
		const cut = hub.requests({ route: "cdn", path: LFS_BIG });
		assert.equal(cut.length, RETRIES + 1, "one transfer per attempt");
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
});
