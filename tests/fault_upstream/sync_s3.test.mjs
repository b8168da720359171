// `hubmirror sync --config` into a bucket ([storage] backend = "s3", README: Blobs in
// S3-compatible object storage) from fake_hub.mjs with transfer faults, on a real Ceph RADOS
// Gateway and a bucket made for each test. The rule under test: nothing wrong is ever visible
// under a digest. After every run, each object under hm/blobs/ is downloaded and must hash to its
// own name, whatever the upstream sent and wherever the sync stopped:
//  - wrong bytes of the right length for an LFS file, every time: the sync fails, nothing is
//    published, no object bears that file's digest; once the upstream is repaired the next sync
//    publishes the repo and the object appears;
//  - bodies cut mid-stream (a small LFS file, and a later chunk of a large one sent in parts):
//    resumed with Range, the sync succeeds;
//  - a sync SIGKILLed while a large LFS file is half downloaded: no object and no upload under
//    way for it, `gc --grace 0s` succeeds, the next sync completes.
// The mirror is then served from the bucket alone (its local copies removed) and every file must
// resolve to the upstream's bytes.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror HUBMIRROR_TEST_S3_DIR=DIR node --test sync_s3.test.mjs
// where DIR is that of `tests/support/ceph_rgw.sh start DIR`, whose `env` file names the gateway's
// endpoint and keys. Needs curl (the bucket is made, listed and read with it).
//
// Everything runs on 127.0.0.1 with port 0; the hubmirror side in a temporary directory removed
// afterwards.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { s3Helpers } from "../e2e/s3_support.mjs";
import { BIN, sha256Hex, sha256OfFile, spawnHubmirror } from "../support/harness.mjs";
import { corruptBytes } from "./fake_hub.mjs";
import { assertRepoServed } from "./scenario.mjs";
import { assertDigestMismatchReported, assertEachFileServedOnce, CONFIG, largeFileRepo, LFS_BIG, LFS_HUGE, LFS_SHARD, modelRepo, RETRIES, STALL_TIMEOUT_S, syncScenarios } from "./sync_fixtures.mjs";

// The client's range_chunk_bytes (sync/curl_upstream_hub.h), only to aim faults past the first
// chunk of LFS_HUGE; the assertions read the ranges from the fake hub's log.
const RANGE_CHUNK = 8 * 1024 * 1024;
/** The key prefix of the configs; hubmirror adds the '/' itself. */
const PREFIX = "hm";

/** The gateway (endpoint, key, secret) and the bucket of the test under way. */
const world = { s3: {}, bucket: "" };
const { blobs: BLOBS, listBlobObjects, s3Request, setUpGateway, storageConfig } = s3Helpers(world, PREFIX);

const { work, scenario, newDataDir } = syncScenarios("hubmirror-sync-s3-");

/**
 * A new bucket for one test (an earlier test's objects must not count for or against it), and a
 * config naming it; the config's path.
 */
async function newBucket(label) {
	await setUpGateway(label);
	const config = work.dir("hubmirror.toml");
	await writeFile(config, storageConfig());
	return config;
}

/** GETs the object `key` of the bucket into `file` with curl, signed as s3Request signs; its HTTP status. */
function downloadObject(key, file) {
	const { endpoint, key: id, secret } = world.s3;
	const args = ["-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${id}:${secret}`, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"];
	args.push("-o", file, "-w", "%{http_code}", `${endpoint}/${world.bucket}/${key}`);
	return new Promise((resolve, reject) => {
		execFile("curl", args, (err, stdout, stderr) => (err ? reject(new Error(`curl GET ${key}: ${stderr || err.message}`)) : resolve(Number(stdout))));
	});
}

/**
 * Every object under hm/blobs/, downloaded and hashed: each must be named by a sha256 and hold
 * exactly the bytes of that digest. `when` says at which point of the test, for the messages.
 * Returns the digests that name them, sorted.
 */
async function assertEveryObjectHashesToItsName(when) {
	const names = [];
	for (const { key, size } of await listBlobObjects()) {
		const name = key.slice(BLOBS.length);
		assert.ok(key.startsWith(BLOBS) && /^[0-9a-f]{64}$/.test(name), `${when}: an object in ${BLOBS} not named by a sha256: ${key}`);
		const file = work.dir("object");
		const status = await downloadObject(key, file);
		assert.equal(status, 200, `${when}: GET ${key}`);
		const actual = await sha256OfFile(file);
		await rm(file);
		assert.equal(actual, name, `${when}: the object ${key} (${size} bytes) holds bytes whose sha256 is ${actual}`);
		names.push(name);
	}
	return names.sort();
}

/** The distinct sha256 digests of the repo's files: what the bucket holds once it is mirrored. */
function repoDigests(hub, repoId) {
	return [...new Set([...hub.repo(repoId).files.values()].map((f) => f.sha256))].sort();
}

/**
 * `hubmirror serve --config` on the data dir, its local copies of the blobs removed first, so that
 * every byte it sends comes from the bucket; stopped when the scenario ends.
 */
async function serveFromBucket(ctx, data, config) {
	await rm(join(data, "blobs"), { recursive: true, force: true });
	return ctx.serve(data, { args: ["--config", config] });
}

/** The repo is not visible in the mirror at all (as sync_fixtures' assertNotPublished, served with the config). */
async function assertNotPublished(ctx, data, config, repoId) {
	const mirror = await serveFromBucket(ctx, data, config);
	try {
		const res = await fetch(`${mirror.url}/api/models/${repoId}`);
		await res.arrayBuffer();
		assert.equal(res.status, 404, `mirror /api/models/${repoId} must be 404 after a refused sync, got ${res.status}`);
		assert.equal(res.headers.get("x-error-code"), "RepoNotFound");
		const file = await fetch(`${mirror.url}/${repoId}/resolve/main/${CONFIG}`);
		await file.arrayBuffer();
		assert.equal(file.status, 404, `mirror must not serve ${repoId}/${CONFIG}`);
	} finally {
		await mirror.stop();
	}
}

/**
 * `hubmirror sync` as ctx.sync runs it, SIGKILLed as soon as `when()` holds (polled on the fake
 * hub's log, which shows how far the download got); recorded in ctx.runs for the diagnostics.
 * `killedAtMs` stays null when the sync ended before that point.
 */
async function syncKilledWhen(ctx, data, args, when) {
	const upstream = ["--upstream", ctx.hub.url, "--retries", String(RETRIES), "--stall-timeout", String(STALL_TIMEOUT_S)];
	const full = ["sync", "--data", data, ...upstream, ...args];
	const startedAt = Date.now();
	const child = spawnHubmirror(BIN, full);
	const run = { args: full, code: null, signal: null, stdout: "", stderr: "", killedAtMs: null, ms: 0 };
	ctx.runs.push(run);
	child.stdout.setEncoding("utf8").on("data", (s) => (run.stdout += s));
	child.stderr.setEncoding("utf8").on("data", (s) => (run.stderr += s));
	const closed = once(child, "close");
	const running = () => child.exitCode === null && child.signalCode === null;
	while (running() && Date.now() - startedAt < 30_000) {
		if (when()) {
			run.killedAtMs = Date.now() - startedAt;
			child.kill("SIGKILL");
			break;
		}
		await sleep(10);
	}
	if (running() && run.killedAtMs === null) child.kill("SIGKILL"); // never reached the point: a hang
	[run.code, run.signal] = await closed;
	run.ms = Date.now() - startedAt;
	return run;
}

describe("hubmirror sync into a bucket from an upstream with transfer faults", () => {
	scenario("wrong bytes of an LFS file, every time: refused, no object under its digest; repaired, it appears", async (ctx) => {
		const repoId = "acme/s3-corrupt-lfs";
		const config = await newBucket("hm-sync-corrupt");
		const hub = await ctx.startHub({ repos: [modelRepo(repoId)] });
		hub.inject({ route: "content", repo: repoId, path: LFS_SHARD, kind: "corrupt", times: Infinity });
		const file = hub.repo(repoId).files.get(LFS_SHARD);
		const bad = corruptBytes(file.content);
		const data = newDataDir();

		const run = await ctx.sync(data, ["--config", config, repoId]);
		assertDigestMismatchReported(run, repoId, LFS_SHARD, file.sha256, sha256Hex(bad));
		const served = hub.requests({ route: "cdn", path: LFS_SHARD });
		assert.ok(served.length >= 1 && served.every((r) => r.fault === "corrupt"), "the corrupt file was fetched");

		const refused = await assertEveryObjectHashesToItsName("after the refused sync");
		assert.ok(!refused.includes(file.sha256), `an object is named by ${LFS_SHARD}'s digest ${file.sha256}, which never arrived intact`);
		assert.ok(!refused.includes(sha256Hex(bad)), "the wrong bytes were uploaded under their own digest");
		await assertNotPublished(ctx, data, config, repoId);

		hub.clearFaults();
		const repaired = await ctx.sync(data, ["--config", config, repoId]);
		assert.equal(repaired.code, 0, "once the upstream serves the right bytes, the sync succeeds");
		const stored = await assertEveryObjectHashesToItsName("after the repaired sync");
		assert.ok(stored.includes(file.sha256), `no object ${BLOBS}${file.sha256} after the repaired sync`);
		assert.deepEqual(stored, repoDigests(hub, repoId), "the bucket holds one object per distinct content of the repo");
		await assertRepoServed(await serveFromBucket(ctx, data, config), hub, repoId);
	});

	scenario("bodies cut mid-stream, a small LFS file and a later chunk of a large one: resumed, every object its name's bytes", async (ctx) => {
		const repoId = "acme/s3-truncated";
		const config = await newBucket("hm-sync-truncated");
		const hub = await ctx.startHub({ repos: [largeFileRepo(repoId)] });
		hub.inject({ route: "content", repo: repoId, path: LFS_BIG, kind: "truncate" });
		// Past the first chunk and off any chunk boundary; the file is uploaded in parts (over 8 MiB).
		const cutAt = 3 * RANGE_CHUNK + RANGE_CHUNK / 2 + 4321;
		hub.inject({ route: "content", repo: repoId, path: LFS_HUGE, kind: "truncate", at: cutAt });
		const big = hub.repo(repoId).files.get(LFS_BIG);
		const half = Math.floor(big.size / 2);
		const data = newDataDir();

		const run = await ctx.sync(data, ["--config", config, repoId]);
		assert.equal(run.code, 0, "sync must survive truncated bodies");

		// Really cut and really resumed: otherwise this would only be a clean sync.
		const bigCdn = hub.requests({ route: "cdn", path: LFS_BIG });
		assert.deepEqual(bigCdn.map((r) => [r.range, r.bytesSent]), [[null, half], [`bytes=${half}-`, big.size - half]], `${LFS_BIG}: cut, then resumed`);
		const hugeCdn = hub.requests({ route: "cdn", path: LFS_HUGE });
		const cut = hugeCdn.filter((r) => r.fault === "truncate");
		assert.equal(cut.length, 1, `one chunk of ${LFS_HUGE} was cut`);
		assert.ok(hugeCdn.some((r) => r.n > cut[0].n && r.rangeStart === cutAt && r.status === 206 && r.complete), `${LFS_HUGE}: resumed from byte ${cutAt}`);
		assertEachFileServedOnce(hub, repoId);

		const stored = await assertEveryObjectHashesToItsName("after the resumed sync");
		assert.deepEqual(stored, repoDigests(hub, repoId), "the bucket holds one object per distinct content of the repo");
		await assertRepoServed(await serveFromBucket(ctx, data, config), hub, repoId);
	});

	scenario("a sync SIGKILLed mid-download of a large file: no object for it, gc succeeds, the next sync completes", async (ctx) => {
		const repoId = "acme/s3-killed";
		const config = await newBucket("hm-sync-killed");
		const hub = await ctx.startHub({ repos: [largeFileRepo(repoId)] });
		const huge = hub.repo(repoId).files.get(LFS_HUGE);
		// One later chunk answers its headers and then nothing, every time: the file cannot be
		// finished, so the sync is still downloading it when the test kills it.
		hub.inject({ route: "content", repo: repoId, path: LFS_HUGE, kind: "stall", at: 2 * RANGE_CHUNK + 999, times: Infinity });
		const data = newDataDir();

		// The kill point: the stalled chunk is under way and another chunk has arrived whole, so
		// part of the file is on the mirror's disk and the rest is not.
		const hugeCdn = () => hub.requests({ route: "cdn", path: LFS_HUGE });
		const killed = await syncKilledWhen(ctx, data, ["--config", config, repoId], () => {
			const cdn = hugeCdn();
			return cdn.some((r) => r.fault === "stall") && cdn.some((r) => r.fault === undefined && r.status === 206 && r.complete);
		});
		assert.ok(killed.killedAtMs !== null, `the sync ended (exit ${killed.code}) before the kill point`);
		assert.equal(killed.signal, "SIGKILL");
		const sent = hub.bytesServed(repoId, LFS_HUGE);
		assert.ok(sent > 0 && sent < huge.size, `killed with ${sent} of ${huge.size} bytes of ${LFS_HUGE} sent`);

		const afterKill = await assertEveryObjectHashesToItsName("after the kill");
		assert.ok(!afterKill.includes(huge.sha256), `an object is named by ${LFS_HUGE}'s digest, which never arrived whole`);
		// Nor was an upload of it begun: its bytes were never checked, so none may have left the disk.
		const uploads = await s3Request("GET", `/${world.bucket}?uploads=`);
		assert.equal(uploads.status, 200, `listing the multipart uploads: ${uploads.body.slice(0, 300)}`);
		assert.ok(!uploads.body.includes(`<Key>${BLOBS}${huge.sha256}</Key>`), `a multipart upload of ${LFS_HUGE} was begun: ${uploads.body}`);

		hub.clearFaults();
		const gc = await ctx.run(["gc", "--data", data, "--config", config, "--grace", "0s"]);
		assert.equal(gc.code, 0, `hubmirror gc --grace 0s after the kill (exit ${gc.code}): ${gc.stderr}`);
		await assertEveryObjectHashesToItsName("after gc");

		const again = await ctx.sync(data, ["--config", config, repoId]);
		assert.equal(again.code, 0, "the sync after the kill and gc completes");
		const stored = await assertEveryObjectHashesToItsName("after the second sync");
		assert.deepEqual(stored, repoDigests(hub, repoId), "the bucket holds one object per distinct content of the repo");
		await assertRepoServed(await serveFromBucket(ctx, data, config), hub, repoId);
	});
});
