// `hubmirror gc` and retention: what a dry run announces is exactly what gc then frees (an orphan
// blob, the content only a released revision used, a stale partial file), the retained revisions
// stay whole, and a sync racing a gc loop on the same data dir completes with every blob kept.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test gc.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import {
	BIN,
	blobPath,
	encodePath,
	filesUnder,
	importRepo,
	pseudoRandomBytes,
	rawGet,
	runHubmirror,
	runLogged,
	serveHubmirror,
	sha256Hex,
	useWorkRoot,
	writeSource,
} from "../support/harness.mjs";
import { assertServed } from "./integrity_fixture.mjs";

const work = useWorkRoot("hubmirror-gc-");

const KiB = 1024;
const MiB = 1024 * KiB;
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3600 * 1000);

// Test 1 runs gc with this grace and waits it out after the release: the released revision's blobs
// were written seconds before, so the default 1h would keep them, and `0s` would also sweep the
// recent partial that must stay. 3 s leaves room for the gc runs, which take milliseconds.
const GRACE = "3s";
const GRACE_MS = 3000;

/** Writes `content` at `path` (its folders made), with the mtime `mtime` when given. */
async function plant(path, content, mtime) {
	await mkdir(dirname(path), { recursive: true });
	await writeFile(path, content);
	if (mtime) await utimes(path, mtime, mtime);
}

/** The name sync gives a resumable partial of the content `full`. */
function partialName(full) {
	return `partial-${sha256Hex(full)}-${full.length}`;
}

/** `hubmirror --data DATA gc ARGS...`, which must exit 0. */
async function gc(t, data, args) {
	const run = await runLogged(t, ["--data", data, "gc", ...args]);
	assert.equal(run.code, 0, `gc ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run;
}

/** Every file under the data dir's blobs/ and tmp/. */
async function storeFiles(data) {
	return [...(await filesUnder(join(data, "blobs"))), ...(await filesUnder(join(data, "tmp")))];
}

/** Every file of `repo` at each of `revs`, served by `server`: the bytes of `files` (path -> Buffer). */
async function assertRevisionsServed(server, repo, revs, files) {
	for (const rev of revs) {
		for (const [path, content] of files) {
			const res = await rawGet(`${server.url}/${repo}/resolve/${rev}/${encodePath(path)}`);
			assertServed(res, `${rev}:${path}`, content);
		}
	}
}

test("gc --dry-run then gc frees exactly an orphan blob, a released revision's content and stale partial files", { timeout: 60_000 }, async (t) => {
	const REPO = "acme/gc-model";
	const data = work.dir("data");
	const revisions = [];
	for (let i = 1; i <= 3; i++) {
		const files = new Map([
			["config.json", Buffer.from('{\n  "model_type": "gc-test",\n  "hidden_size": 64\n}\n')],
			["model.safetensors", pseudoRandomBytes(`weights-${i}`, 300 * KiB + i)],
			["notes.txt", Buffer.from(`notes of revision ${i}\n`)],
		]);
		const src = work.dir(`src-${i}`);
		await writeSource(src, files);
		const args = ["import", "--data", data, "--repo", REPO, ...(i === 1 ? ["--tag", "v1"] : []), src];
		const run = await runLogged(t, args);
		assert.equal(run.code, 0, `import ${i}: ${run.stderr}`);
		const id = /as commit ([0-9a-f]{40})$/m.exec(run.stdout)?.[1];
		assert.ok(id, `no commit id in: ${run.stdout}`);
		revisions.push({ id, files });
	}
	const [first, released, head] = revisions;
	const settings = await runLogged(t, ["--data", data, "repo", "settings", REPO, "--keep-revisions", "1"]);
	assert.equal(settings.code, 0, settings.stderr);
	const releasedAt = Date.now();

	// Only the released revision used its weights and notes; its config is everyone's.
	const releasedOnly = ["model.safetensors", "notes.txt"].map((p) => released.files.get(p));
	const orphan = pseudoRandomBytes("orphan", 12_345);
	const orphanPath = blobPath(data, sha256Hex(orphan));
	await plant(orphanPath, orphan, TWO_HOURS_AGO);
	const stalePartial = pseudoRandomBytes("stale-full", 10 * KiB);
	const stalePath = join(data, "tmp", partialName(stalePartial));
	await plant(stalePath, stalePartial.subarray(0, 4 * KiB), TWO_HOURS_AGO);

	const freedBlobs = [orphanPath, ...releasedOnly.map((b) => blobPath(data, sha256Hex(b)))];
	const blobBytes = orphan.length + releasedOnly.reduce((n, b) => n + b.length, 0);
	const expected = { blobs: 3, bytes: blobBytes + 4 * KiB, blob_bytes: blobBytes };

	await sleep(Math.max(0, releasedAt + GRACE_MS + 300 - Date.now()));
	const recentPartial = pseudoRandomBytes("recent-full", 9 * KiB);
	const recentPath = join(data, "tmp", partialName(recentPartial));
	await plant(recentPath, recentPartial.subarray(0, 3 * KiB));
	const before = await storeFiles(data);
	for (const path of [...freedBlobs, stalePath, recentPath]) assert.ok(before.includes(path), `${path} is there`);

	// --- the dry run: the numbers, and nothing removed
	const text = await gc(t, data, ["--dry-run", "--grace", GRACE]);
	assert.equal(text.stdout.trimEnd().split("\n").at(-1), `would free ${expected.blobs} blobs, ${expected.bytes} bytes`);
	const dry = JSON.parse((await gc(t, data, ["--dry-run", "--grace", GRACE, "--json"])).stdout);
	assert.deepEqual(
		{ dry_run: dry.dry_run, blobs: dry.blobs, bytes: dry.bytes, blob_bytes: dry.blob_bytes },
		{ dry_run: true, ...expected },
	);
	assert.deepEqual(dry.temporaries, { files: 1, bytes: 4 * KiB });
	assert.deepEqual(dry.quarantine, { files: 0, bytes: 0 });
	assert.equal(dry.live_blobs, 5, "config, v1's weights and notes, main's weights and notes");
	assert.deepEqual(await storeFiles(data), before, "a dry run removes nothing");

	// --- gc: the same numbers, exactly those files gone
	const done = JSON.parse((await gc(t, data, ["--grace", GRACE, "--json"])).stdout);
	assert.deepEqual(
		{ dry_run: done.dry_run, blobs: done.blobs, bytes: done.bytes, blob_bytes: done.blob_bytes },
		{ dry_run: false, ...expected },
	);
	assert.deepEqual(done.temporaries, { files: 1, bytes: 4 * KiB });
	const gone = new Set([...freedBlobs, stalePath]);
	assert.deepEqual(await storeFiles(data), before.filter((p) => !gone.has(p)), "exactly the orphan, the released content and the stale partial gone");

	const again = await gc(t, data, ["--grace", GRACE]);
	assert.equal(again.stdout.trimEnd().split("\n").at(-1), "freed 0 blobs, 0 bytes", "a second gc frees nothing");

	// --- the retained revisions are whole; the released one is gone
	const server = await serveHubmirror(BIN, data);
	try {
		await assertRevisionsServed(server, REPO, ["main", head.id], head.files);
		await assertRevisionsServed(server, REPO, ["v1", first.id], first.files);
		const res = await rawGet(`${server.url}/${REPO}/resolve/${released.id}/config.json`);
		assert.equal(res.status, 404, `the released revision by id: ${res.body.toString("utf8", 0, 300)}`);
		assert.equal(res.headers["x-error-code"], "RevisionNotFound");
	} finally {
		await server.stop();
	}
	const verify = await runLogged(t, ["verify", "--data", data]);
	assert.equal(verify.code, 0, `verify after gc: ${verify.stdout}`);
});

test("a sync running during gc completes and verifies", { timeout: 60_000 }, async (t) => {
	const REPO = "acme/race";
	const files = new Map([
		["model-00001.safetensors", pseudoRandomBytes("race-1", 9 * MiB)],
		["model-00002.safetensors", pseudoRandomBytes("race-2", 7 * MiB)],
		["extra.bin", pseudoRandomBytes("race-3", 5 * MiB + 17)],
		["small.gguf", pseudoRandomBytes("race-4", 3 * MiB - 5)],
		["config.json", Buffer.from('{ "model_type": "race" }\n')],
	]);
	const src = work.dir("race-src");
	await writeSource(src, files);
	const upData = work.dir("upstream");
	const commit = await importRepo(t, upData, src, REPO);

	// gc needs a registry to read from its first run: the mirror already holds a small repo.
	const data = work.dir("mirror");
	const seedSrc = work.dir("seed-src");
	const seed = new Map([["README.md", Buffer.from("# seed\n")]]);
	await writeSource(seedSrc, seed);
	await importRepo(t, data, seedSrc, "acme/seed");

	const upstream = await serveHubmirror(BIN, upData);
	const gcRuns = [];
	let sync;
	try {
		// One file at a time at 4 MB/s: about 6 s, each blob stored seconds before the commit names it.
		const syncing = runHubmirror(
			BIN,
			["--data", data, "sync", "--upstream", upstream.url, "--limit-rate", "4000000", "--concurrency", "1", REPO],
			{ timeoutMs: 50_000 },
		).then((run) => (sync = run));
		while (sync === undefined) {
			const run = await runHubmirror(BIN, ["--data", data, "gc", "--grace", "0s", "--json"]);
			gcRuns.push({ run, duringSync: sync === undefined });
			await sleep(5);
		}
		await syncing;
	} finally {
		await upstream.stop();
	}
	t.diagnostic(`sync took ${sync.ms} ms; ${gcRuns.length} gc runs`);
	assert.equal(sync.timedOut, false, "the sync timed out");
	assert.equal(sync.code, 0, `sync failed (exit ${sync.code}): ${sync.stderr.slice(-2000)}`);
	assert.match(sync.stdout, new RegExp(`mirrored ${commit}, ${files.size} files`));

	for (const { run } of gcRuns) {
		assert.equal(run.code, 0, `a gc failed (exit ${run.code}): ${run.stderr}`);
		const report = JSON.parse(run.stdout);
		assert.equal(report.blobs, 0, `a gc during the sync freed blobs: ${run.stdout}`);
		assert.equal(report.bytes, 0, `a gc during the sync freed something: ${run.stdout}`);
	}
	assert.ok(gcRuns.filter((r) => r.duringSync).length >= 5, `only ${gcRuns.length} gc runs during the sync`);
	const sawUnnamed = gcRuns.some(({ run }) => JSON.parse(run.stdout).recent_blobs > 0);
	assert.ok(sawUnnamed, "no gc ran while a stored blob was not yet named by a commit");

	const verify = await runLogged(t, ["verify", "--data", data]);
	assert.equal(verify.code, 0, `verify after the race: ${verify.stdout}`);
	const server = await serveHubmirror(BIN, data);
	try {
		await assertRevisionsServed(server, REPO, ["main", commit], files);
		await assertRevisionsServed(server, "acme/seed", ["main"], seed);
	} finally {
		await server.stop();
	}
	const last = JSON.parse((await gc(t, data, ["--grace", "0s", "--json"])).stdout);
	assert.equal(last.blobs, 0, "everything stored is used");
	assert.equal(last.live_blobs, files.size + seed.size);
});
