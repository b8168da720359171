// `hubmirror sync` of a large LFS file (40 MiB and a bit) against fake_hub.mjs: it is downloaded as
// parallel ranges, its first chunk through /resolve, the rest as bounded `Range: bytes=a-b`
// requests on the signed CDN URL the redirect gave. The tests check the ranges (each byte fetched
// once, in parallel, one /resolve), and the faults a chunk can meet: a cut body, an expired
// signature, wrong bytes; and that --limit-rate keeps one stream.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test sync_large_files.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { sha256Hex } from "../support/harness.mjs";
import { corruptBytes } from "./fake_hub.mjs";
import { APPROVED_TOKEN, assertCdnNeverSawAuthorization, assertDigestMismatchReported, assertEachFileServedOnce, assertMirrored, assertRefusedThenRepaired, assertSecretNotPrinted, largeFileRepo, LFS_HUGE, syncScenarios, TOKEN_ENV } from "./sync_fixtures.mjs";

// The client's range_chunk_bytes (sync/curl_upstream_hub.h), only to aim faults past the first
// chunk; the assertions read the ranges from the fake hub's log.
const RANGE_CHUNK = 8 * 1024 * 1024;

const { scenario, newDataDir } = syncScenarios("hubmirror-sync-large-");

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

describe("hubmirror sync of large files as parallel ranges", () => {
	scenario("a large LFS file is fetched as parallel bounded ranges of one signed URL, each byte once", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large")] });
		const file = hub.repo("acme/large").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["--token-env", TOKEN_ENV, "acme/large"], { env: { [TOKEN_ENV]: APPROVED_TOKEN } });
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

		const run = await ctx.sync(data, ["--token-env", TOKEN_ENV, "acme/large-expiring"], { env: { [TOKEN_ENV]: APPROVED_TOKEN } });
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
		assertDigestMismatchReported(run, repoId, LFS_HUGE, file.sha256, sha256Hex(received));
		await assertRefusedThenRepaired(ctx, data, repoId, received);
	});

	scenario("with --limit-rate, a large file is one stream (no ranges)", async (ctx) => {
		const hub = await ctx.startHub({ repos: [largeFileRepo("acme/large-limited")] });
		const file = hub.repo("acme/large-limited").files.get(LFS_HUGE);
		const data = newDataDir();

		const run = await ctx.sync(data, ["--limit-rate", String(1024 * 1024 * 1024), "acme/large-limited"]);
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
