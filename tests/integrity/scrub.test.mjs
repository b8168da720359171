// The scheduled scrub of `hubmirror serve --config` ([verify] interval_seconds): a byte flipped in
// the stored blob of a file over 16 MiB, which serve sends with sendfile unhashed, is found by the
// scrub; the file is then refused with 503 instead of served, the blob is quarantined and counted
// in /metrics, and the next `hubmirror sync` (run beside the server) repairs it.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test scrub.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { BIN, blobPath, flipByte, importRepo, pseudoRandomBytes, rawGet, runLogged, serveHubmirror, sha256Hex, sha256OfFile, useWorkRoot, writeSource } from "../support/harness.mjs";
import { assertRefused, assertServed, fileUrl, MiB, quarantined } from "./integrity_fixture.mjs";

const REPO = "acme/scrub-model";
// Over the 16 MiB from which serve sends files unhashed; odd on purpose.
const WEIGHTS = "model.safetensors";
const WEIGHTS_SIZE = 20 * MiB + 3;
const CONFIG = "config.json";

const files = new Map([
	[WEIGHTS, pseudoRandomBytes(WEIGHTS, WEIGHTS_SIZE)],
	[CONFIG, Buffer.from(`{"model_type": "scrub"}\n`)],
]);
const weightsSha = sha256Hex(files.get(WEIGHTS));

let upstream;
const work = useWorkRoot("hubmirror-scrub-", {
	async setup(work, t) {
		const src = work.dir("src");
		await writeSource(src, files);
		const data = work.dir("upstream");
		await importRepo(t, data, src, REPO);
		upstream = await serveHubmirror(BIN, data);
	},
	teardown: () => upstream?.stop(),
	timeout: 30_000,
});

/** `hubmirror sync` of REPO from the upstream into `data`, which must succeed; its stdout. */
async function sync(t, data) {
	const run = await runLogged(t, ["sync", "--data", data, "--upstream", upstream.url, REPO], { timeoutMs: 30_000 });
	assert.equal(run.code, 0, `hubmirror sync failed (exit ${run.code}): ${run.stderr}`);
	return run.stdout;
}

/** The value of the unlabelled sample `name` in the server's /metrics. */
async function metric(server, name) {
	const text = await (await fetch(`${server.url}/metrics`)).text();
	const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
	assert.ok(m, `no ${name} in /metrics`);
	return Number(m[1]);
}

/** Polls `check()` every 100 ms until it returns true; fails with `what` after `ms`. */
async function eventually(what, ms, check) {
	const deadline = Date.now() + ms;
	while (!(await check())) {
		assert.ok(Date.now() < deadline, `${what}: not within ${ms} ms`);
		await sleep(100);
	}
}

test("a byte flipped in a stored blob over 16 MiB is found by the scheduled scrub, refused with 503, and repaired by the next sync", { timeout: 60_000 }, async (t) => {
	const data = work.dir("mirror");
	assert.match(await sync(t, data), new RegExp(`^${REPO}@main: mirrored [0-9a-f]{40}, 2 files, downloaded 2 `, "m"));
	const blob = blobPath(data, weightsSha);
	const stored = await flipByte(blob, WEIGHTS_SIZE - 1000);

	const config = work.dir("scrub.toml");
	await writeFile(config, "[verify]\ninterval_seconds = 1\nmax_bytes_per_second = 0\n");
	const server = await serveHubmirror(BIN, data, { args: ["--config", config] });
	try {
		// Before the first scrub (one interval after start) the file goes out by sendfile as stored,
		// unhashed; the scrub may have run already, or run while it is sent (the open file is sent
		// whole): so either the damaged bytes in full, or the refusal.
		const early = await rawGet(fileUrl(server, WEIGHTS, REPO));
		if (early.status === 200) assertServed(early, WEIGHTS, stored);
		else assertRefused(early, WEIGHTS, files.get(WEIGHTS));

		await eventually("the scrub refuses the damaged file with 503", 15_000, async () => (await rawGet(fileUrl(server, WEIGHTS, REPO))).status === 503);
		assertRefused(await rawGet(fileUrl(server, WEIGHTS, REPO)), WEIGHTS, files.get(WEIGHTS));
		assert.equal(await metric(server, "hubmirror_verify_corrupt_blobs_total"), 1, "corrupt blobs counted");
		assert.ok((await metric(server, "hubmirror_verify_runs_total")) >= 1, "scrub runs counted");
		assert.deepEqual((await quarantined(data)).map((n) => n.split(".")[0]), [weightsSha], "the damaged blob is in quarantine/");
		assertServed(await rawGet(fileUrl(server, CONFIG, REPO)), CONFIG, files.get(CONFIG));

		// The next sync, beside the running server on the same data dir, fetches it again.
		assert.match(await sync(t, data), new RegExp(`^${REPO}@main: mirrored [0-9a-f]{40}, 2 files, downloaded 1 \\(${WEIGHTS_SIZE} bytes\\)$`, "m"));
		const repaired = await rawGet(fileUrl(server, WEIGHTS, REPO));
		assert.equal(repaired.status, 200, `after the repair: ${repaired.body.toString("utf8", 0, 300)}`);
		assert.equal(sha256Hex(repaired.body), weightsSha, "the repaired file's sha256");
		assert.equal(await sha256OfFile(blob), weightsSha, "the stored blob's sha256");

		// Later scrubs find the repaired blob intact: no new finding, still served.
		const runs = await metric(server, "hubmirror_verify_runs_total");
		await eventually("another scrub runs", 15_000, async () => (await metric(server, "hubmirror_verify_runs_total")) > runs);
		assert.equal(await metric(server, "hubmirror_verify_corrupt_blobs_total"), 1, "no new corrupt blob");
		assertServed(await rawGet(fileUrl(server, WEIGHTS, REPO)), WEIGHTS, files.get(WEIGHTS));
	} finally {
		await server.stop();
	}
	const verified = await runLogged(t, ["verify", "--data", data]);
	assert.equal(verified.code, 0, "verify after the repair");
	assert.match(verified.stdout, /: 0 corrupt, 0 missing$/m);
});
