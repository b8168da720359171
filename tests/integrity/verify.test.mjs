// `hubmirror verify` on data dirs whose stored blobs were damaged on disk (bytes flipped,
// truncated, extended, deleted, swapped, a registry whose blobs are gone): it names repo, path
// and both digests, quarantines what is corrupt, and `hubmirror serve` then refuses those files
// (503 BlobUnavailable).
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test verify.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { access, cp, readFile, rename, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { BIN, blobPath, flipByte, importRepo, makeWritable, pseudoRandomBytes, rawGet, runLogged, serveHubmirror, sha256Hex, writeSource } from "../support/harness.mjs";
import { assertRefused, assertServed, baseData, commitId, CONFIG, files, fileUrl, MODEL, MODEL_SIZE, quarantined, REPO, useIntegrityFixture } from "./integrity_fixture.mjs";

const work = useIntegrityFixture("hubmirror-verify-");


/**
 * Each case damages a fresh copy of the base data dir and returns, per damaged path, what it
 * expects: "corrupt" with the sha256 of the bytes now stored, or "missing".
 */
const DAMAGE = [
	{
		name: "first byte of the LFS file flipped",
		async damage(data) {
			const bytes = await flipByte(blobPath(data, sha256Hex(files.get(MODEL))), 0);
			return { [MODEL]: { state: "corrupt", actual: sha256Hex(bytes), size: MODEL_SIZE } };
		},
	},
	{
		name: "middle byte of the LFS file flipped",
		async damage(data) {
			const bytes = await flipByte(blobPath(data, sha256Hex(files.get(MODEL))), MODEL_SIZE >> 1);
			return { [MODEL]: { state: "corrupt", actual: sha256Hex(bytes), size: MODEL_SIZE } };
		},
	},
	{
		name: "last byte of the LFS file flipped",
		async damage(data) {
			const bytes = await flipByte(blobPath(data, sha256Hex(files.get(MODEL))), MODEL_SIZE - 1);
			return { [MODEL]: { state: "corrupt", actual: sha256Hex(bytes), size: MODEL_SIZE } };
		},
	},
	{
		name: "a byte of a small git-stored file flipped",
		async damage(data) {
			const bytes = await flipByte(blobPath(data, sha256Hex(files.get(CONFIG))), 7);
			return { [CONFIG]: { state: "corrupt", actual: sha256Hex(bytes), size: files.get(CONFIG).length } };
		},
	},
	{
		name: "the LFS file truncated",
		async damage(data) {
			const path = await makeWritable(blobPath(data, sha256Hex(files.get(MODEL))));
			const size = MODEL_SIZE - 1000;
			await truncate(path, size);
			return { [MODEL]: { state: "corrupt", actual: sha256Hex(files.get(MODEL).subarray(0, size)), size } };
		},
	},
	{
		name: "bytes appended to the LFS file",
		async damage(data) {
			const path = await makeWritable(blobPath(data, sha256Hex(files.get(MODEL))));
			const bytes = Buffer.concat([files.get(MODEL), Buffer.from("trailing garbage\n")]);
			await writeFile(path, bytes);
			return { [MODEL]: { state: "corrupt", actual: sha256Hex(bytes), size: bytes.length } };
		},
	},
	{
		name: "the LFS file deleted",
		async damage(data) {
			await unlink(blobPath(data, sha256Hex(files.get(MODEL))));
			return { [MODEL]: { state: "missing" } };
		},
	},
	{
		name: "two blobs' files swapped",
		async damage(data) {
			const model = blobPath(data, sha256Hex(files.get(MODEL)));
			const config = blobPath(data, sha256Hex(files.get(CONFIG)));
			await rename(model, `${model}.swap`);
			await rename(config, model);
			await rename(`${model}.swap`, config);
			return {
				[MODEL]: { state: "corrupt", actual: sha256Hex(files.get(CONFIG)), size: files.get(CONFIG).length },
				[CONFIG]: { state: "corrupt", actual: sha256Hex(files.get(MODEL)), size: MODEL_SIZE },
			};
		},
	},
	{
		// node:sqlite is not in Node 20: the registry is copied into a data dir without its blobs,
		// so that every blob row points at a file the store never had.
		name: "registry rows pointing to blobs the store does not have",
		async damage(data) {
			await rm(join(data, "blobs"), { recursive: true, force: true });
			const expected = {};
			for (const path of files.keys()) expected[path] = { state: "missing" };
			return expected;
		},
	},
];

// Test timeouts exceed the 30 s a hubmirror run may take, so a run that hangs is reported as
// such, with its output, rather than as a timeout of the whole test.
describe("a. verify finds damaged blobs, quarantines them, and serve refuses them", () => {
	for (const c of DAMAGE) {
		test(c.name, { timeout: 90_000 }, async (t) => {
			const data = await work.copy(baseData, "damage");
			const damaged = await c.damage(data);
			// The same damage in a second copy, for the JSON report (verify changes what it finds).
			const jsonData = work.dir("damage-json");
			await cp(data, jsonData, { recursive: true });

			// --- the text report
			const run = await runLogged(t, ["verify", "--data", data]);
			assert.equal(run.code, 1, "verify exits 1 when it finds a problem");
			const lines = run.stdout.trimEnd().split("\n");
			const nCorrupt = Object.values(damaged).filter((d) => d.state === "corrupt").length;
			const nMissing = Object.values(damaged).filter((d) => d.state === "missing").length;
			for (const [path, d] of Object.entries(damaged)) {
				const expectedSha = sha256Hex(files.get(path));
				const prefix = `${d.state}: model ${REPO}@${commitId} ${path}: sha256 expected ${expectedSha}, `;
				const line = lines.find((l) => l.startsWith(prefix));
				assert.ok(line, `no line starting ${JSON.stringify(prefix)} in:\n${run.stdout}`);
				if (d.state === "corrupt") {
					assert.ok(line.includes(d.actual), `${path}: the line names the digest found, ${d.actual}: ${line}`);
					assert.ok(line.endsWith("(moved to quarantine/)"), `${path}: ${line}`);
					if (d.size !== files.get(path).length) {
						assert.ok(line.includes(`size ${d.size}, expected ${files.get(path).length}`), `${path}: sizes: ${line}`);
					}
				} else {
					assert.ok(line.endsWith("not in the store"), `${path}: ${line}`);
				}
			}
			const problemLines = lines.filter((l) => /^(corrupt|missing): /.test(l));
			assert.equal(problemLines.length, nCorrupt + nMissing, `one line per damaged blob:\n${run.stdout}`);
			assert.match(
				run.stdout,
				new RegExp(`^verified ${files.size} blobs \\(\\d+ bytes\\) in [\\d.]+ s, [\\d.]+ MiB/s: ${nCorrupt} corrupt, ${nMissing} missing$`, "m"),
			);

			// --- quarantine: each corrupt blob, with the bytes that were found, out of blobs/
			const inQuarantine = await quarantined(data);
			const corruptPaths = Object.keys(damaged).filter((p) => damaged[p].state === "corrupt");
			assert.equal(inQuarantine.length, corruptPaths.length, `quarantine/: ${inQuarantine}`);
			for (const path of corruptPaths) {
				const sha = sha256Hex(files.get(path));
				const name = inQuarantine.find((n) => n.startsWith(`${sha}.`));
				assert.ok(name, `${path}: blob ${sha} not in quarantine/: ${inQuarantine}`);
				assert.equal(sha256Hex(await readFile(join(data, "quarantine", name))), damaged[path].actual, `${path}: quarantined bytes`);
				await assert.rejects(access(blobPath(data, sha)), { code: "ENOENT" }, `${path}: still in blobs/`);
			}

			// --- the JSON report
			const json = await runLogged(t, ["verify", "--data", jsonData, "--json"]);
			assert.equal(json.code, 1, "verify --json exits 1 too");
			const report = JSON.parse(json.stdout);
			assert.equal(report.blobs, files.size);
			assert.equal(report.bytes, [...files.values()].reduce((n, b) => n + b.length, 0));
			assert.equal(report.corrupt, nCorrupt);
			assert.equal(report.missing, nMissing);
			assert.equal(typeof report.seconds, "number");
			assert.equal(typeof report.bytes_per_second, "number");
			assert.equal(report.problems.length, nCorrupt + nMissing);
			for (const [path, d] of Object.entries(damaged)) {
				const problem = report.problems.find((p) => p.sha256 === sha256Hex(files.get(path)));
				assert.ok(problem, `${path}: no problem in ${json.stdout}`);
				assert.equal(problem.state, d.state, `${path}: state`);
				assert.deepEqual(problem.files, [{ type: "model", repo: REPO, commit: commitId, path }], `${path}: files`);
				if (d.state === "corrupt") assert.ok(problem.detail.includes(d.actual), `${path}: detail ${problem.detail}`);
				else assert.equal(problem.detail, "not in the store");
			}

			// --- serve: the damaged files refused, the others intact
			const server = await serveHubmirror(BIN, data);
			try {
				for (const [path, content] of files) {
					const res = await rawGet(fileUrl(server, path));
					if (path in damaged) assertRefused(res, path, content);
					else assertServed(res, path, content);
				}
			} finally {
				await server.stop();
			}
		});
	}

	// The quarantined blob is no longer in the store: a second verify reports it missing.
	test("verify again before any repair: still exits 1, the blob now missing", { timeout: 90_000 }, async (t) => {
		const data = await work.copy(baseData, "reverify");
		await flipByte(blobPath(data, sha256Hex(files.get(MODEL))), 1);
		assert.equal((await runLogged(t, ["verify", "--data", data])).code, 1);
		const again = await runLogged(t, ["verify", "--data", data, "--json"]);
		assert.equal(again.code, 1, "the blob is still not in the store");
		const report = JSON.parse(again.stdout);
		assert.equal(report.problems.length, 1);
		assert.equal(report.problems[0].sha256, sha256Hex(files.get(MODEL)));
		assert.equal(report.problems[0].state, "missing");
		assert.equal((await quarantined(data)).length, 1, "nothing more quarantined");
	});

	test("verify --repo limits the check to that repo", { timeout: 90_000 }, async (t) => {
		const data = await work.copy(baseData, "verify-repo");
		const other = work.dir("other-src");
		await writeSource(other, [["other.bin", pseudoRandomBytes("other", 5000)]]);
		await importRepo(t, data, other, "acme/other");
		await flipByte(blobPath(data, sha256Hex(files.get(MODEL))), 0);
		const run = await runLogged(t, ["verify", "--data", data, "--repo", "acme/other"]);
		assert.equal(run.code, 0, "the damaged blob belongs to another repo");
		assert.match(run.stdout, /^verified 1 blobs .*: 0 corrupt, 0 missing$/m);
		const all = await runLogged(t, ["verify", "--data", data, "--repo", REPO]);
		assert.equal(all.code, 1);
		assert.match(all.stdout, /^corrupt: model acme\/integrity-model@/m);
	});
});
