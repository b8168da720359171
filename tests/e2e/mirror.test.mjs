// End-to-end test: what a second hubmirror got from the first (by `hubmirror sync`, or through an
// exported bundle) serves the same files to `@huggingface/hub`.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test mirror.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { fileDownloadInfo, modelInfo, snapshotDownload } from "@huggingface/hub";

import { BIN, runHubmirror, sha256OfFile } from "../support/harness.mjs";
import { expected, recordingFetch, REPO, REPO_NAME, serve, served, snapshotFiles, useServedRepo, withTrace } from "./fixture.mjs";

const work = useServedRepo("hubmirror-e2e-mirror-");

describe("hubmirror instances filled from another serve the same files to @huggingface/hub", () => {
	test("a hubmirror synced from this one serves the same files to the client", { timeout: 120_000 }, async (t) => {
		const mirrorData = work.dir("mirror-data");
		const synced = await runHubmirror(BIN, ["sync", "--data", mirrorData, "--upstream", served.url, REPO_NAME], { timeoutMs: 90_000 });
		assert.equal(synced.code, 0, `hubmirror sync failed (exit ${synced.code})\nstdout:\n${synced.stdout}\nstderr:\n${synced.stderr}`);
		const { sha } = await modelInfo({ name: REPO_NAME, hubUrl: served.url, additionalFields: ["sha"] });
		// The mirror must stand on its own: the upstream is stopped before the client asks.
		const mirrorUrl = await serve(mirrorData);
		await withTrace(t, async () => {
			const info = await modelInfo({ name: REPO_NAME, hubUrl: mirrorUrl, additionalFields: ["sha"], fetch: recordingFetch });
			assert.equal(info.sha, sha, "the mirror serves the upstream's commit");
			for (const [path, exp] of expected) {
				const download = await fileDownloadInfo({ repo: REPO, path, hubUrl: mirrorUrl, fetch: recordingFetch });
				assert.ok(download, `${path}: missing on the mirror`);
				assert.equal(download.size, exp.size, `${path}: size on the mirror`);
				assert.equal(download.etag, `"${exp.lfs ? exp.sha256 : exp.gitSha1}"`, `${path}: ETag on the mirror`);
			}
			const cacheDir = work.dir("cache-mirror");
			const folder = await snapshotDownload({ repo: REPO, hubUrl: mirrorUrl, cacheDir, fetch: recordingFetch });
			const onDisk = await snapshotFiles(folder);
			assert.deepEqual([...onDisk].sort(), [...expected.keys()].sort(), "the mirror's snapshot has exactly the source files");
			for (const p of onDisk) {
				assert.equal(await sha256OfFile(join(folder, ...p.split("/"))), expected.get(p).sha256, `${p}: sha256 from the mirror`);
			}
		});
	});

	test("a bundle exported from this instance and imported by another serves the same files", { timeout: 120_000 }, async (t) => {
		const dataDir = served.dataDir;
		const bundle = work.dir("bundle");
		const innerData = work.dir("inner-data");
		const keyFile = work.dir("outer-key.pem");
		// The exporting instance's public key, from its own server.
		const outerUrl = await serve(dataDir);
		const key = await fetch(`${outerUrl}/api/integrity/key`);
		assert.equal(key.status, 200, "the exporting instance serves its public key");
		await writeFile(keyFile, await key.text());
		const exported = await runHubmirror(BIN, ["export", "--data", dataDir, "--out", bundle, "--volume-size", "16M", "--all"], { timeoutMs: 60_000 });
		assert.equal(exported.code, 0, `hubmirror export failed (exit ${exported.code})\nstderr:\n${exported.stderr}`);
		const imported = await runHubmirror(BIN, ["import-bundle", "--data", innerData, bundle, "--trusted-key", keyFile], { timeoutMs: 60_000 });
		assert.equal(imported.code, 0, `hubmirror import-bundle failed (exit ${imported.code})\nstderr:\n${imported.stderr}`);
		for (const args of [["--up"], ["--down"]]) {
			const outer = await runHubmirror(BIN, ["lineage", "--data", dataDir, REPO_NAME, ...args], { timeoutMs: 20_000 });
			const inner = await runHubmirror(BIN, ["lineage", "--data", innerData, REPO_NAME, ...args], { timeoutMs: 20_000 });
			assert.equal(inner.code, outer.code, `lineage ${args} exit codes`);
			assert.equal(inner.stdout, outer.stdout, `lineage ${args} on both sides`);
		}
		const innerUrl = await serve(innerData);
		await withTrace(t, async () => {
			const cacheDir = work.dir("cache-inner");
			const folder = await snapshotDownload({ repo: REPO, hubUrl: innerUrl, cacheDir, fetch: recordingFetch });
			const onDisk = await snapshotFiles(folder);
			assert.deepEqual([...onDisk].sort(), [...expected.keys()].sort(), "the imported snapshot has exactly the source files");
			for (const p of onDisk) {
				assert.equal(await sha256OfFile(join(folder, ...p.split("/"))), expected.get(p).sha256, `${p}: sha256 from the importing instance`);
			}
		});
	});
});
