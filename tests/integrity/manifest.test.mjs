// Signed manifests: /api/integrity/key, /api/integrity/models/..., `hubmirror manifest` and
// `hubmirror check` against downloaded folders (plain and cache-style with symlinks), tampered
// manifests and wrong keys.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test manifest.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { mkdir, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { after, before, describe, test } from "node:test";

import { BIN, flipByte, runHubmirror, runLogged, serveHubmirror, sha256Hex, writeSource } from "../support/harness.mjs";
import { baseData, commitId, files, fileUrl, MODEL, MODEL_SIZE, NOTES, REPO, useIntegrityFixture } from "./integrity_fixture.mjs";

const work = useIntegrityFixture("hubmirror-manifest-");

describe("d. signed manifests and hubmirror check", () => {
	let data;
	let server;
	let keyFile;
	let keyId;
	let otherKeyFile;
	/**
	 * The document `hubmirror manifest` prints, which the check tests use: the server's copy is
	 * compared with it in a test of its own, so that a broken endpoint fails that test only.
	 */
	let cliDocument;
	let manifestFile;
	let downloaded;

	before(async (t) => {
		data = await work.copy(baseData, "manifest");
		server = await serveHubmirror(BIN, data);
		const res = await fetch(`${server.url}/api/integrity/key`);
		assert.equal(res.status, 200);
		keyId = res.headers.get("x-key-id");
		const pem = await res.text();
		assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
		keyFile = join(work.dir("key"), "key.pem");
		await mkdir(dirname(keyFile), { recursive: true });
		await writeFile(keyFile, pem);

		// Another data dir's key, from its own server.
		const otherData = work.dir("other-key-data");
		const other = await serveHubmirror(BIN, otherData);
		try {
			const otherPem = await (await fetch(`${other.url}/api/integrity/key`)).text();
			assert.notEqual(otherPem, pem, "two data dirs must not share a key");
			otherKeyFile = join(dirname(keyFile), "other.pem");
			await writeFile(otherKeyFile, otherPem);
		} finally {
			await other.stop();
		}

		const printed = await runLogged(t, ["manifest", "--data", data, REPO]);
		assert.equal(printed.code, 0, "hubmirror manifest");
		cliDocument = JSON.parse(printed.stdout);
		manifestFile = join(dirname(keyFile), "manifest.json");
		await writeFile(manifestFile, printed.stdout);

		// Every file of the revision, downloaded.
		downloaded = work.dir("download");
		for (const path of files.keys()) {
			const r = await fetch(fileUrl(server, path));
			assert.equal(r.status, 200, `${path}: download`);
			await writeSource(downloaded, [[path, Buffer.from(await r.arrayBuffer())]]);
		}
	});
	after(async () => {
		await server?.stop();
	});

	/** A copy of the downloaded folder, to change. */
	function downloadCopy(label) {
		return work.copy(downloaded, label);
	}

	async function check(t, { manifest = manifestFile, key = keyFile, folder = downloaded } = {}) {
		return runLogged(t, ["check", "--manifest", manifest, "--key", key, folder]);
	}

	test("hubmirror manifest: the revision's files, signed by the data dir's key", () => {
		const m = cliDocument.manifest;
		assert.deepEqual(Object.keys(cliDocument).sort(), ["manifest", "signature"]);
		assert.equal(typeof cliDocument.signature, "string");
		assert.equal(m.repo, REPO);
		assert.equal(m.type, "model");
		assert.equal(m.commit, commitId);
		assert.equal(m.key_id, keyId, "the manifest's key_id is the X-Key-Id of /api/integrity/key");
		assert.ok(!Number.isNaN(Date.parse(m.generated_at)), `generated_at: ${m.generated_at}`);
		assert.deepEqual(
			m.files.map((f) => [f.path, f.size, f.sha256, f.lfs]).sort(),
			[...files].map(([p, b]) => [p, b.length, sha256Hex(b), p === MODEL]).sort(),
		);
	});

	test("GET /api/integrity/models/ORG/NAME/main is the same manifest", { timeout: 15_000 }, async () => {
		const res = await fetch(`${server.url}/api/integrity/models/${REPO}/main`);
		const text = await res.text();
		assert.equal(
			res.status,
			200,
			`status; X-Error-Message: ${res.headers.get("x-error-message")}; body: ${text.slice(0, 300)}; server stderr: ${server.stderr().slice(-600)}`,
		);
		const document = JSON.parse(text);
		const { generated_at: a, ...served } = document.manifest;
		const { generated_at: b, ...printed } = cliDocument.manifest;
		assert.deepEqual(served, printed, "same manifest apart from generated_at");
		assert.equal(served.key_id, keyId);
		assert.equal(typeof document.signature, "string");

		// And it passes check too.
		const file = join(dirname(keyFile), "served-manifest.json");
		await writeFile(file, text);
		const run = await runHubmirror(BIN, ["check", "--manifest", file, "--key", keyFile, downloaded]);
		assert.equal(run.code, 0, `check with the served manifest: ${run.stdout}${run.stderr}`);
	});

	test("check passes on the downloaded folder", { timeout: 15_000 }, async (t) => {
		const run = await check(t);
		assert.equal(run.code, 0);
		assert.match(run.stdout, new RegExp(`^manifest of model ${REPO}@${commitId} signed by key ${keyId}: signature ok$`, "m"));
		assert.match(run.stdout, new RegExp(`^${files.size} ok, 0 mismatched, 0 missing, 0 unexpected$`, "m"));
	});

	// The layout of a huggingface_hub / huggingface.js cache: snapshots/REV/PATH are relative
	// symlinks to blobs/ETAG, outside the folder checked.
	test("check passes on a cache-style snapshot of symlinks into blobs/", { timeout: 15_000 }, async (t) => {
		const cache = work.dir("cache-layout");
		const snapshot = join(cache, "snapshots", commitId);
		for (const [path, content] of files) {
			const blobName = sha256Hex(content);
			await writeSource(join(cache, "blobs"), [[blobName, content]]);
			const link = join(snapshot, ...path.split("/"));
			await mkdir(dirname(link), { recursive: true });
			await symlink(relative(dirname(link), join(cache, "blobs", blobName)), link);
		}
		const run = await check(t, { folder: snapshot });
		assert.doesNotMatch(run.stdout, /^unexpected: /m, "files reached through symlinks are the manifest's files");
		assert.match(run.stdout, new RegExp(`^${files.size} ok, 0 mismatched, 0 missing, 0 unexpected$`, "m"));
		assert.equal(run.code, 0);
	});

	test("check: one byte changed -> mismatched", { timeout: 15_000 }, async (t) => {
		const folder = await downloadCopy("check-mismatch");
		await flipByte(join(folder, MODEL), 12345);
		const run = await check(t, { folder });
		assert.equal(run.code, 1);
		assert.match(run.stdout, new RegExp(`^mismatched: ${MODEL}: sha256 [0-9a-f]{64} \\(${MODEL_SIZE} bytes\\), expected ${sha256Hex(files.get(MODEL))} \\(${MODEL_SIZE} bytes\\)$`, "m"));
		assert.match(run.stdout, new RegExp(`^${files.size - 1} ok, 1 mismatched, 0 missing, 0 unexpected$`, "m"));
	});

	test("check: a file deleted -> missing", { timeout: 15_000 }, async (t) => {
		const folder = await downloadCopy("check-missing");
		await unlink(join(folder, ...NOTES.split("/")));
		const run = await check(t, { folder });
		assert.equal(run.code, 1);
		assert.match(run.stdout, new RegExp(`^missing: ${NOTES}$`, "m"));
		assert.match(run.stdout, new RegExp(`^${files.size - 1} ok, 0 mismatched, 1 missing, 0 unexpected$`, "m"));
	});

	test("check: a file added -> unexpected", { timeout: 15_000 }, async (t) => {
		const folder = await downloadCopy("check-unexpected");
		await writeFile(join(folder, "docs", "extra.txt"), "not in the manifest\n");
		const run = await check(t, { folder });
		assert.equal(run.code, 1);
		assert.match(run.stdout, /^unexpected: docs\/extra\.txt$/m);
		assert.match(run.stdout, new RegExp(`^${files.size} ok, 0 mismatched, 0 missing, 1 unexpected$`, "m"));
	});

	test("check: a file entry changed in the manifest -> signature error", { timeout: 15_000 }, async (t) => {
		const document = structuredClone(cliDocument);
		const entry = document.manifest.files.find((f) => f.path === MODEL);
		entry.sha256 = sha256Hex(Buffer.from("something else"));
		const file = join(dirname(keyFile), "tampered-entry.json");
		await writeFile(file, JSON.stringify(document, null, 2));
		const run = await check(t, { manifest: file });
		assert.equal(run.code, 1);
		assert.match(run.stdout, /signature does not match its content/);
		assert.doesNotMatch(run.stdout, /signature ok|^\d+ ok/m, "no file is checked against an unverified manifest");
	});

	test("check: a tampered signature -> signature error", { timeout: 15_000 }, async (t) => {
		const document = structuredClone(cliDocument);
		const sig = Buffer.from(document.signature, "base64");
		sig[0] ^= 0x01;
		document.signature = sig.toString("base64");
		assert.notEqual(document.signature, cliDocument.signature);
		const file = join(dirname(keyFile), "tampered-signature.json");
		await writeFile(file, JSON.stringify(document));
		const run = await check(t, { manifest: file });
		assert.equal(run.code, 1);
		assert.match(run.stdout, /signature does not match its content/);
		assert.doesNotMatch(run.stdout, /signature ok/);
	});

	test("check: the key of another data dir -> refused", { timeout: 15_000 }, async (t) => {
		const run = await check(t, { key: otherKeyFile });
		assert.equal(run.code, 1);
		assert.match(run.stdout, new RegExp(`signed by key ${keyId}, not by the given key [0-9a-f]+`));
		assert.doesNotMatch(run.stdout, /signature ok/);
	});

	test("check: bad usage exits 2", { timeout: 15_000 }, async (t) => {
		const noManifest = await check(t, { manifest: join(work.path, "no-such-manifest.json") });
		assert.equal(noManifest.code, 2, "no such manifest file");
		assert.notEqual(noManifest.stderr.trim(), "", "an error on stderr");

		const notPem = join(dirname(keyFile), "not-a-key.pem");
		await writeFile(notPem, "this is not a PEM key\n");
		const badKey = await check(t, { key: notPem });
		assert.equal(badKey.code, 2, "a key that is not a PEM");

		const noKey = await check(t, { key: join(work.path, "no-such-key.pem") });
		assert.equal(noKey.code, 2, "no such key file");

		const notDir = await check(t, { folder: manifestFile });
		assert.equal(notDir.code, 2, "PATH is not a directory");

		const noArgs = await runLogged(t, ["check", downloaded]);
		assert.equal(noArgs.code, 2, "--manifest and --key are required");
	});
});
